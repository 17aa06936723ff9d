"""Writes to the instrument. Every change to a version goes through ``check_version_editable``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from backend.errors import Conflict, DomainError
from surveys import expressions
from surveys.models import (
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    QuestionType,
    Section,
    Study,
    StudyMembership,
    Wave,
)
from translations import registry
from translations.content import (
    LanguageCoverage,
    TranslatableModel,
    coverage,
    set_text,
    text_of,
    translated_fields,
)

TranslatedText = Mapping[str, str]


class VersionFrozen(Conflict):
    code = "version_frozen"


class NotPublishable(DomainError):
    code = "not_publishable"


# --- checks -------------------------------------------------------------------------------------------


def check_version_editable(version: QuestionnaireVersion) -> None:
    if version.is_published:
        raise VersionFrozen(
            f"Version {version.number} of '{version.questionnaire.slug}' is published and frozen; "
            "create a new draft version to change it."
        )


def check_languages(*, languages: Sequence[str], source_language: str) -> None:
    unknown = [code for code in languages if not registry.is_known(code)]
    if unknown:
        raise DomainError(f"Unknown language codes: {', '.join(unknown)}.", field="languages")
    if len(set(languages)) != len(languages):
        raise DomainError("A language is listed twice.", field="languages")
    if source_language not in languages:
        raise DomainError(
            "The source language must be one of the study's languages.", field="source_language"
        )


def _apply_texts(instance: TranslatableModel, field_name: str, texts: TranslatedText | None) -> None:
    if texts is None:
        return
    allowed = instance.translation_languages()
    for language, value in texts.items():
        if language not in allowed:
            raise DomainError(
                f"'{language}' is not a language of this study (it has {', '.join(allowed)}).",
                field=field_name,
            )
        set_text(instance, field_name, language, value.strip())


def check_question(question: Question, *, earlier_variables: Iterable[str]) -> None:
    """Single-question rules that need no other row but the names of earlier questions."""
    earlier = set(earlier_variables)
    if question.type == QuestionType.RATING:
        if question.scale_min is None or question.scale_max is None:
            raise DomainError("A rating scale needs scale_min and scale_max.", field="scale_min")
        if question.scale_min >= question.scale_max:
            raise DomainError("scale_min must be below scale_max.", field="scale_min")
    for low, high in (
        ("min_value", "max_value"),
        ("min_length", "max_length"),
        ("min_choices", "max_choices"),
    ):
        low_value, high_value = getattr(question, low), getattr(question, high)
        if low_value is not None and high_value is not None and low_value > high_value:
            raise DomainError(f"{low} must not exceed {high}.", field=low)
    if question.type == QuestionType.NOTE and question.required:
        raise DomainError("A note is display-only and cannot be required.", field="required")
    try:
        if question.relevance:
            expressions.check(question.relevance, allowed_names=earlier, allow_self=False)
    except expressions.ExpressionError as error:
        raise DomainError(f"Relevance of {question.variable}: {error.message}", field="relevance") from error
    try:
        if question.constraint:
            expressions.check(question.constraint, allowed_names=earlier, allow_self=True)
    except expressions.ExpressionError as error:
        raise DomainError(
            f"Constraint of {question.variable}: {error.message}", field="constraint"
        ) from error


def variables_before(question: Question) -> list[str]:
    ordered = Question.objects.filter(version_id=question.version_id).order_by(
        "section__position", "position"
    )
    names: list[str] = []
    for variable, section_position, position in ordered.values_list(
        "variable", "section__position", "position"
    ):
        if (section_position, position) >= (question.section.position, question.position):
            break
        names.append(variable)
    return names


# --- studies and questionnaires ----------------------------------------------------------------------------


@transaction.atomic
def study_create(
    *,
    slug: str,
    title: TranslatedText,
    source_language: str,
    languages: Sequence[str],
    introduction: TranslatedText | None = None,
    by: User,
) -> Study:
    check_languages(languages=languages, source_language=source_language)
    if Study.objects.filter(slug=slug).exists():
        raise Conflict(f"A study with slug '{slug}' exists already.", field="slug")
    study = Study(slug=slug, source_language=source_language, languages=list(languages))
    _apply_texts(study, "title", title)
    _apply_texts(study, "introduction", introduction)
    if not text_of(study, "title", source_language):
        raise DomainError(f"The title is required in the source language '{source_language}'.", field="title")
    study.save()
    StudyMembership.objects.create(study=study, user=by, role=StudyMembership.Role.ADMIN)
    return study


@transaction.atomic
def study_update(
    *,
    study: Study,
    title: TranslatedText | None = None,
    introduction: TranslatedText | None = None,
    languages: Sequence[str] | None = None,
) -> Study:
    if languages is not None:
        check_languages(languages=languages, source_language=study.source_language)
        study.languages = list(languages)
    _apply_texts(study, "title", title)
    _apply_texts(study, "introduction", introduction)
    study.save()
    return study


@transaction.atomic
def questionnaire_create(*, study: Study, slug: str, title: TranslatedText) -> Questionnaire:
    if Questionnaire.objects.filter(study=study, slug=slug).exists():
        raise Conflict(f"The study has a questionnaire '{slug}' already.", field="slug")
    questionnaire = Questionnaire(study=study, slug=slug)
    _apply_texts(questionnaire, "title", title)
    questionnaire.save()
    QuestionnaireVersion.objects.create(questionnaire=questionnaire, number=1)
    return questionnaire


# --- sections, questions, choices ------------------------------------------------------------------------


def _next_position(queryset: Any) -> int:
    return int(queryset.aggregate(top=Max("position"))["top"] or 0) + 1


@transaction.atomic
def section_create(
    *,
    version: QuestionnaireVersion,
    key: str,
    title: TranslatedText | None = None,
    position: int | None = None,
) -> Section:
    check_version_editable(version)
    if Section.objects.filter(version=version, key=key).exists():
        raise Conflict(f"This version has a section '{key}' already.", field="key")
    section = Section(version=version, key=key)
    section.position = position or _next_position(version.sections.all())
    if Section.objects.filter(version=version, position=section.position).exists():
        raise Conflict(f"Position {section.position} is taken in this version.", field="position")
    _apply_texts(section, "title", title)
    section.save()
    return section


@transaction.atomic
def section_update(*, section: Section, title: TranslatedText | None = None) -> Section:
    check_version_editable(section.version)
    _apply_texts(section, "title", title)
    section.save()
    return section


@transaction.atomic
def section_delete(*, section: Section) -> None:
    check_version_editable(section.version)
    for question in section.questions.all():
        check_not_referenced(question, ignore_section=section)
    section.delete()


def check_not_referenced(question: Question, *, ignore_section: Section | None = None) -> None:
    """Refuses to delete a question that other questions' relevance or constraint still names."""
    others = Question.objects.filter(version_id=question.version_id).exclude(pk=question.pk)
    if ignore_section is not None:
        others = others.exclude(section=ignore_section)
    users = [
        other.variable
        for other in others.only("variable", "relevance", "constraint")
        if question.variable in expressions.references_of(other.relevance, other.constraint)
    ]
    if users:
        raise Conflict(
            f"{question.variable} is used in the relevance or constraint of {', '.join(users)}; change those first."
        )


QUESTION_TEXT_FIELDS = ("text", "hint", "constraint_message", "scale_min_label", "scale_max_label")
QUESTION_PLAIN_FIELDS = (
    "type",
    "required",
    "relevance",
    "constraint",
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "min_choices",
    "max_choices",
    "scale_min",
    "scale_max",
    "scale_reversed",
    "allow_dont_know",
    "allow_no_answer",
)


@transaction.atomic
def question_create(
    *,
    section: Section,
    variable: str,
    type: str,
    text: TranslatedText,
    position: int | None = None,
    choices: Sequence[Mapping[str, Any]] = (),
    **attributes: Any,
) -> Question:
    version = section.version
    check_version_editable(version)
    if Question.objects.filter(version=version, variable=variable).exists():
        raise Conflict(
            f"Variable '{variable}' is used by another question of this version.", field="variable"
        )
    question = Question(version=version, section=section, variable=variable, type=type)
    question.position = position or _next_position(section.questions.all())
    if Question.objects.filter(section=section, position=question.position).exists():
        raise Conflict(f"Position {question.position} is taken in this section.", field="position")
    _set_question_fields(question, {"text": text, **attributes})
    check_question(question, earlier_variables=variables_before(question))
    question.full_clean(exclude=["version", "section", "translation_digests"])
    question.save()
    for choice in choices:
        choice_create(question=question, code=choice["code"], label=choice["label"])
    return question


def _set_question_fields(question: Question, changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        if name in QUESTION_TEXT_FIELDS:
            _apply_texts(question, name, value)
        elif name in QUESTION_PLAIN_FIELDS:
            setattr(
                question,
                name,
                value if value is not None or name not in _NOT_NULL else getattr(question, name),
            )
        else:
            raise DomainError(f"'{name}' is not a field of a question.", field=name)


_NOT_NULL = {
    "type",
    "required",
    "relevance",
    "constraint",
    "scale_reversed",
    "allow_dont_know",
    "allow_no_answer",
}


@transaction.atomic
def question_update(*, question: Question, **changes: Any) -> Question:
    check_version_editable(question.version)
    _set_question_fields(question, changes)
    check_question(question, earlier_variables=variables_before(question))
    question.full_clean(exclude=["version", "section", "translation_digests"])
    question.save()
    return question


@transaction.atomic
def question_delete(*, question: Question) -> None:
    check_version_editable(question.version)
    check_not_referenced(question)
    question.delete()


@transaction.atomic
def choice_create(
    *, question: Question, code: str, label: TranslatedText, position: int | None = None
) -> Choice:
    check_version_editable(question.version)
    if not question.has_choices:
        raise DomainError(
            f"{question.variable} is a {question.type} question and has no choices.", field="code"
        )
    if question.choices.filter(code=code).exists():
        raise Conflict(f"{question.variable} has a choice with code '{code}' already.", field="code")
    choice = Choice(question=question, code=code, position=position or _next_position(question.choices.all()))
    _apply_texts(choice, "label", label)
    choice.full_clean(exclude=["question", "translation_digests"])
    choice.save()
    return choice


@transaction.atomic
def choice_update(*, choice: Choice, label: TranslatedText) -> Choice:
    check_version_editable(choice.question.version)
    _apply_texts(choice, "label", label)
    choice.save()
    return choice


@transaction.atomic
def choice_delete(*, choice: Choice) -> None:
    check_version_editable(choice.question.version)
    choice.delete()


@transaction.atomic
def texts_mark_reviewed(*, instance: TranslatableModel, field_name: str, languages: Sequence[str]) -> None:
    """A translator confirms translations are still right after the source changed."""
    if field_name not in translated_fields(instance):
        raise DomainError(
            f"'{field_name[:64]}' is not a translated field here; use one of {', '.join(translated_fields(instance))}.",
            field="field",
        )
    if isinstance(instance, (Section, Question, Choice)):
        check_version_editable(
            instance.version if not isinstance(instance, Choice) else instance.question.version
        )
    instance.record_translation_digests(reviewed=[(field_name, language) for language in languages])
    instance.save()


# --- versions ---------------------------------------------------------------------------------------------


def version_objects(version: QuestionnaireVersion) -> list[TranslatableModel]:
    """Every translated object a phone sees with this version, in questionnaire order."""
    questionnaire = version.questionnaire
    objects: list[TranslatableModel] = [questionnaire.study, questionnaire]
    sections = list(version.sections.order_by("position"))
    questions = list(version.questions.select_related("section").order_by("section__position", "position"))
    choices = Choice.objects.filter(question__version=version).order_by("question_id", "position")
    choices_by_question: dict[int, list[Choice]] = {}
    for choice in choices:
        choices_by_question.setdefault(choice.question_id, []).append(choice)
    for section in sections:
        objects.append(section)
        for question in questions:
            if question.section_id == section.pk:
                objects.append(question)
                objects.extend(choices_by_question.get(question.pk, []))
    return objects


def version_coverage(version: QuestionnaireVersion) -> list[LanguageCoverage]:
    study = version.questionnaire.study
    return coverage(version_objects(version), languages=study.languages, source=study.source_language)


def check_version_publishable(version: QuestionnaireVersion) -> None:
    problems: list[str] = []
    questions = list(version.questions.select_related("section").order_by("section__position", "position"))
    if not questions:
        problems.append("The version has no questions.")
    seen: list[str] = []
    for question in questions:
        try:
            check_question(question, earlier_variables=seen)
        except DomainError as error:
            problems.append(error.message)
        if question.has_choices and not question.choices.exists():
            problems.append(f"{question.variable} is a choice question without choices.")
        seen.append(question.variable)
    missing = {
        entry.language: [str(ref) for ref in entry.missing]
        for entry in version_coverage(version)
        if entry.missing
    }
    if missing:
        problems.append(
            "Texts are missing in "
            + "; ".join(f"{language}: {', '.join(refs)}" for language, refs in missing.items())
            + "."
        )
    if problems:
        raise NotPublishable(
            f"Version {version.number} cannot be published: " + " ".join(problems),
            details={"problems": problems, "missing_translations": missing},
        )


def version_content_digest(version: QuestionnaireVersion) -> str:
    study = version.questionnaire.study
    content = [
        [obj.translation_label(), field, language, text_of(obj, field, language)]
        for obj in version_objects(version)
        for field in translated_fields(obj)
        for language in study.languages
    ]
    for question in version.questions.order_by("section__position", "position"):
        content.append([question.variable, *(str(getattr(question, name)) for name in QUESTION_PLAIN_FIELDS)])
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


@transaction.atomic
def version_publish(*, version: QuestionnaireVersion, by: User) -> QuestionnaireVersion:
    version = QuestionnaireVersion.objects.select_for_update().get(pk=version.pk)
    check_version_editable(version)
    check_version_publishable(version)
    version.status = QuestionnaireVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = by
    version.content_digest = version_content_digest(version)
    version.save(update_fields=["status", "published_at", "published_by", "content_digest"])
    return version


@transaction.atomic
def version_new_draft(*, questionnaire: Questionnaire) -> QuestionnaireVersion:
    """A new draft copied from the latest version; the published one stays as it was."""
    Questionnaire.objects.select_for_update().get(pk=questionnaire.pk)
    if questionnaire.versions.filter(status=QuestionnaireVersion.Status.DRAFT).exists():
        raise Conflict(f"'{questionnaire.slug}' has a draft version already; edit that one.")
    latest = questionnaire.versions.order_by("-number").first()
    if latest is None:  # cannot happen: a questionnaire is created with its first version
        raise Conflict(f"'{questionnaire.slug}' has no version to copy.")
    try:
        draft = QuestionnaireVersion.objects.create(
            questionnaire=questionnaire, number=latest.number + 1, based_on=latest
        )
    except IntegrityError as error:
        raise Conflict("Another draft was created at the same time.") from error
    _copy_content(source=latest, target=draft)
    return draft


def _copy_content(*, source: QuestionnaireVersion, target: QuestionnaireVersion) -> None:
    section_map: dict[int, Section] = {}
    for section in source.sections.all():
        old_pk = section.pk
        section.pk = None
        section.version = target
        section_map[old_pk] = section
    Section.objects.bulk_create(section_map.values())
    question_map: dict[int, Question] = {}
    for question in source.questions.all():
        old_pk = question.pk
        question.pk = None
        question.version = target
        question.section = section_map[question.section_id]
        question_map[old_pk] = question
    Question.objects.bulk_create(question_map.values())
    choices = list(Choice.objects.filter(question__version=source))
    for choice in choices:
        choice.pk = None
        choice.question = question_map[choice.question_id]
    Choice.objects.bulk_create(choices)


# --- waves ---------------------------------------------------------------------------------------------


def check_wave_version(*, study: Study, version: QuestionnaireVersion | None) -> None:
    if version is None:
        return
    if version.questionnaire.study_id != study.pk:
        raise DomainError(
            "The questionnaire version belongs to another study.", field="questionnaire_version"
        )
    if not version.is_published:
        raise DomainError("A wave can only ask a published version.", field="questionnaire_version")


@transaction.atomic
def wave_create(
    *,
    study: Study,
    key: str,
    name: TranslatedText,
    questionnaire_version: QuestionnaireVersion | None = None,
    anchor: str = Wave.Anchor.ENROLLMENT,
    offset_months: int = 0,
    offset_days: int = 0,
    window_days: int = 30,
    position: int | None = None,
) -> Wave:
    check_wave_version(study=study, version=questionnaire_version)
    if Wave.objects.filter(study=study, key=key).exists():
        raise Conflict(f"The study has a wave '{key}' already.", field="key")
    wave = Wave(
        study=study,
        key=key,
        questionnaire_version=questionnaire_version,
        anchor=anchor,
        offset_months=offset_months,
        offset_days=offset_days,
        window_days=window_days,
        position=position or _next_position(study.waves.all()),
    )
    _apply_texts(wave, "name", name)
    wave.full_clean(exclude=["study", "questionnaire_version", "translation_digests"])
    wave.save()
    wave_timing_changed(wave)
    return wave


@transaction.atomic
def wave_update(*, wave: Wave, **changes: Any) -> Wave:
    if "name" in changes:
        _apply_texts(wave, "name", changes.pop("name"))
    if "questionnaire_version" in changes:
        check_wave_version(study=wave.study, version=changes["questionnaire_version"])
    retimed = False
    for name, value in changes.items():
        if name not in {"questionnaire_version", *WAVE_TIMING}:
            raise DomainError(f"'{name}' is not a field of a wave.", field=name)
        retimed = retimed or (name in WAVE_TIMING and getattr(wave, name) != value)
        setattr(wave, name, value)
    wave.full_clean(exclude=["study", "questionnaire_version", "translation_digests"])
    wave.save()
    if retimed:
        wave_timing_changed(wave)
    return wave


WAVE_TIMING = frozenset({"anchor", "offset_months", "offset_days", "window_days"})


def wave_timing_changed(wave: Wave) -> None:
    """A wave was added or its timing changed: once this commits, every participant's windows and reminders
    of the study are recomputed in the background (the participants app keeps them)."""
    from participants.tasks import study_schedules_sync_later  # that app builds on this one

    study_schedules_sync_later(wave.study_id)
