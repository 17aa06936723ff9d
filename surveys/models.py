"""The instrument: studies, questionnaires and their frozen versions, questions, choices and waves.

Nothing here knows about people. Texts a participant reads are translated with django-modeltranslation
(registered in ``translation.py``); the study's ``source_language`` is where translators start from.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from translations.content import TranslatableModel

variable_name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
    "A variable name starts with a letter or underscore and holds only letters, digits and underscores.",
)
choice_code_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{1,32}$", "A choice code holds 1-32 letters, digits, '_', '.' or '-'."
)


class Study(TranslatableModel):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    introduction = models.TextField(blank=True, default="")
    source_language = models.CharField(max_length=8, default="en")
    languages = models.JSONField(default=list, help_text="Language codes the study is run in.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def translation_source_language(self) -> str:
        return self.source_language

    def translation_languages(self) -> Sequence[str]:
        return self.languages

    def translation_label(self) -> str:
        return f"study {self.slug}"


class StudyMembership(models.Model):
    """Who may do what with a study. Field staff are assigned to sites, in the participants app."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Study admin"
        RESEARCHER = "researcher", "Researcher"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user", "role"], name="unique_study_member_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.study}"


class StudyContent(TranslatableModel):
    """Translated content that belongs to a study and takes its languages from it."""

    class Meta:
        abstract = True

    @property
    def owning_study(self) -> Study:
        raise NotImplementedError

    def translation_source_language(self) -> str:
        return self.owning_study.source_language

    def translation_languages(self) -> Sequence[str]:
        return self.owning_study.languages


class Questionnaire(StudyContent):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questionnaires")
    slug = models.SlugField(max_length=64)
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["study", "slug"]
        constraints = [models.UniqueConstraint(fields=["study", "slug"], name="unique_questionnaire_slug")]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.slug}"

    @property
    def owning_study(self) -> Study:
        return self.study

    def translation_label(self) -> str:
        return f"questionnaire {self.slug}"


class QuestionnaireVersion(models.Model):
    """One edition of a questionnaire. Frozen once published: every answer points at the version it saw."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SHA-256 of the canonical content at publication: identifies exactly what participants saw.
    content_digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["questionnaire", "number"]
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "number"], name="unique_version_number"),
            models.UniqueConstraint(
                fields=["questionnaire"], condition=Q(status="draft"), name="one_draft_per_questionnaire"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False), name="published_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire} v{self.number} ({self.status})"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def study(self) -> Study:
        return self.questionnaire.study


class Section(StudyContent):
    """A page of the questionnaire: the unit a phone submits at once."""

    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.CASCADE, related_name="sections")
    key = models.SlugField(max_length=64)
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="unique_section_key"),
            models.UniqueConstraint(fields=["version", "position"], name="unique_section_position"),
        ]

    def __str__(self) -> str:
        return f"{self.version} / {self.key}"

    @property
    def owning_study(self) -> Study:
        return self.version.questionnaire.study

    def translation_label(self) -> str:
        return f"section {self.key}"


class QuestionType(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    RATING = "rating", "Rating scale"
    INTEGER = "integer", "Integer"
    DECIMAL = "decimal", "Decimal"
    TEXT = "text", "Free text"
    DATE = "date", "Date"
    YES_NO = "yes_no", "Yes / no"
    NOTE = "note", "Note (display only)"


CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})
NUMERIC_TYPES = frozenset({QuestionType.INTEGER, QuestionType.DECIMAL})

# World Values Survey missing-value codes, used for the special answers a participant may give.
DONT_KNOW = "-1"
NO_ANSWER = "-2"


class Question(StudyContent):
    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.CASCADE, related_name="questions")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField()
    variable = models.CharField(max_length=64, validators=[variable_name_validator])
    type = models.CharField(max_length=20, choices=QuestionType.choices)
    text = models.TextField()
    hint = models.TextField(blank=True, default="")
    required = models.BooleanField(default=True)
    relevance = models.CharField(max_length=2000, blank=True, default="", help_text="XLSForm expression.")
    constraint = models.CharField(max_length=2000, blank=True, default="", help_text="XLSForm expression.")
    constraint_message = models.CharField(max_length=500, blank=True, default="")
    min_value = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    min_length = models.PositiveIntegerField(null=True, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(20000)])
    min_choices = models.PositiveIntegerField(null=True, blank=True)
    max_choices = models.PositiveIntegerField(null=True, blank=True)
    scale_min = models.SmallIntegerField(null=True, blank=True, validators=[MinValueValidator(-100)])
    scale_max = models.SmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    scale_min_label = models.CharField(max_length=200, blank=True, default="")
    scale_max_label = models.CharField(max_length=200, blank=True, default="")
    # Shown from scale_max down to scale_min, as some WVS items are printed.
    scale_reversed = models.BooleanField(default=False)
    allow_dont_know = models.BooleanField(default=False)
    allow_no_answer = models.BooleanField(default=False)

    class Meta:
        ordering = ["version", "section__position", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "variable"], name="unique_question_variable"),
            models.UniqueConstraint(fields=["section", "position"], name="unique_question_position"),
            models.CheckConstraint(
                condition=Q(type="rating", scale_min__isnull=False, scale_max__isnull=False)
                | ~Q(type="rating"),
                name="rating_has_scale",
            ),
        ]

    def __str__(self) -> str:
        return self.variable

    @property
    def owning_study(self) -> Study:
        return self.version.questionnaire.study

    def translation_label(self) -> str:
        return f"question {self.variable}"

    @property
    def has_choices(self) -> bool:
        return self.type in CHOICE_TYPES

    @property
    def special_codes(self) -> list[str]:
        return [
            code
            for code, allowed in ((DONT_KNOW, self.allow_dont_know), (NO_ANSWER, self.allow_no_answer))
            if allowed
        ]


class Choice(StudyContent):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    code = models.CharField(max_length=32, validators=[choice_code_validator])
    position = models.PositiveIntegerField()
    label = models.CharField(max_length=500)

    class Meta:
        ordering = ["question", "position"]
        constraints = [
            models.UniqueConstraint(fields=["question", "code"], name="unique_choice_code"),
            models.UniqueConstraint(fields=["question", "position"], name="unique_choice_position"),
        ]

    def __str__(self) -> str:
        return f"{self.question.variable}={self.code}"

    @property
    def owning_study(self) -> Study:
        return self.question.version.questionnaire.study

    def translation_label(self) -> str:
        return f"choice {self.question.variable}={self.code}"


class Wave(StudyContent):
    """A round of the panel: which version is asked, and when, relative to the participant's anchor date."""

    class Anchor(models.TextChoices):
        ENROLLMENT = "enrollment", "Enrollment"
        DEPARTURE = "departure", "Planned departure"
        ARRIVAL = "arrival", "Arrival in Sweden"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="waves")
    key = models.SlugField(max_length=64)
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    questionnaire_version = models.ForeignKey(
        QuestionnaireVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="waves"
    )
    anchor = models.CharField(max_length=16, choices=Anchor.choices, default=Anchor.ENROLLMENT)
    offset_months = models.SmallIntegerField(default=0)
    offset_days = models.SmallIntegerField(default=0)
    window_days = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["study", "position"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="unique_wave_key"),
            models.UniqueConstraint(fields=["study", "position"], name="unique_wave_position"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.key}"

    @property
    def owning_study(self) -> Study:
        return self.study

    def translation_label(self) -> str:
        return f"wave {self.key}"
