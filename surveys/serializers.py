"""Shapes of the authoring API. Serializers validate and render; services hold the rules."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from surveys.models import (
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    QuestionType,
    Section,
    Study,
    Wave,
)
from translations import registry
from translations.content import translated_fields
from translations.serializers import TranslatedTextField


def stale_map(instance: Any) -> dict[str, list[str]]:
    return {
        field_name: stale
        for field_name in translated_fields(instance)
        if (
            stale := [
                code
                for code in instance.translation_languages()
                if instance.is_translation_stale(field_name, code)
            ]
        )
    }


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
)
class StaleField(serializers.Field):
    """Which translations need review because their source text changed: ``{"text": ["ar", "fa"]}``."""

    def __init__(self) -> None:
        super().__init__(source="*", read_only=True, help_text="Translations needing review, by field.")

    def to_representation(self, value: Any) -> dict[str, list[str]]:
        return stale_map(value)


class StudyOutput(serializers.ModelSerializer):
    title = TranslatedTextField()
    introduction = TranslatedTextField()

    class Meta:
        model = Study
        fields = ["id", "slug", "source_language", "languages", "title", "introduction", "created_at"]


class StudyInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=64)
    source_language = serializers.ChoiceField(choices=registry.CODES)
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=registry.CODES), min_length=1, max_length=20
    )
    title = TranslatedTextField(max_length=200)
    introduction = TranslatedTextField(required=False)


class StudyUpdateInput(serializers.Serializer):
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=registry.CODES), min_length=1, max_length=20, required=False
    )
    title = TranslatedTextField(max_length=200, required=False)
    introduction = TranslatedTextField(required=False)


class VersionSummary(serializers.ModelSerializer):
    class Meta:
        model = QuestionnaireVersion
        fields = ["id", "number", "status", "created_at", "published_at", "content_digest", "based_on"]


class QuestionnaireOutput(serializers.ModelSerializer):
    title = TranslatedTextField()
    versions = VersionSummary(many=True, read_only=True)

    class Meta:
        model = Questionnaire
        fields = ["id", "study", "slug", "title", "versions"]


class QuestionnaireInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=64)
    title = TranslatedTextField(max_length=200)


class ChoiceOutput(serializers.ModelSerializer):
    label = TranslatedTextField()
    stale = StaleField()

    class Meta:
        model = Choice
        fields = ["id", "code", "position", "label", "stale"]


class ChoiceInput(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,32}$", max_length=32)
    label = TranslatedTextField(max_length=500)
    position = serializers.IntegerField(min_value=1, required=False)


class ChoiceUpdateInput(serializers.Serializer):
    label = TranslatedTextField(max_length=500)


QUESTION_FIELDS = [
    "id", "section", "position", "variable", "type", "text", "hint", "required", "relevance", "constraint",
    "constraint_message", "min_value", "max_value", "min_length", "max_length", "min_choices", "max_choices",
    "scale_min", "scale_max", "scale_min_label", "scale_max_label", "scale_reversed", "allow_dont_know",
    "allow_no_answer",
]  # fmt: skip


class QuestionOutput(serializers.ModelSerializer):
    text = TranslatedTextField()
    hint = TranslatedTextField()
    constraint_message = TranslatedTextField()
    scale_min_label = TranslatedTextField()
    scale_max_label = TranslatedTextField()
    choices = ChoiceOutput(many=True, read_only=True)
    stale = StaleField()

    class Meta:
        model = Question
        fields = [*QUESTION_FIELDS, "choices", "stale"]


class QuestionUpdateInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=QuestionType.choices, required=False)
    text = TranslatedTextField(required=False)
    hint = TranslatedTextField(required=False)
    required = serializers.BooleanField(required=False)
    relevance = serializers.CharField(max_length=2000, allow_blank=True, required=False, trim_whitespace=True)
    constraint = serializers.CharField(
        max_length=2000, allow_blank=True, required=False, trim_whitespace=True
    )
    constraint_message = TranslatedTextField(max_length=500, required=False)
    min_value = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True, required=False)
    max_value = serializers.DecimalField(max_digits=18, decimal_places=6, allow_null=True, required=False)
    min_length = serializers.IntegerField(min_value=0, max_value=20000, allow_null=True, required=False)
    max_length = serializers.IntegerField(min_value=1, max_value=20000, allow_null=True, required=False)
    min_choices = serializers.IntegerField(min_value=0, max_value=500, allow_null=True, required=False)
    max_choices = serializers.IntegerField(min_value=1, max_value=500, allow_null=True, required=False)
    scale_min = serializers.IntegerField(min_value=-100, max_value=100, allow_null=True, required=False)
    scale_max = serializers.IntegerField(min_value=-100, max_value=100, allow_null=True, required=False)
    scale_min_label = TranslatedTextField(max_length=200, required=False)
    scale_max_label = TranslatedTextField(max_length=200, required=False)
    scale_reversed = serializers.BooleanField(required=False)
    allow_dont_know = serializers.BooleanField(required=False)
    allow_no_answer = serializers.BooleanField(required=False)


class QuestionInput(QuestionUpdateInput):
    variable = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", max_length=64)
    type = serializers.ChoiceField(choices=QuestionType.choices)
    text = TranslatedTextField()
    position = serializers.IntegerField(min_value=1, required=False)
    choices = ChoiceInput(many=True, required=False, max_length=500)


class SectionOutput(serializers.ModelSerializer):
    title = TranslatedTextField()
    questions = QuestionOutput(many=True, read_only=True)
    stale = StaleField()

    class Meta:
        model = Section
        fields = ["id", "key", "position", "title", "stale", "questions"]


class SectionInput(serializers.Serializer):
    key = serializers.SlugField(max_length=64)
    title = TranslatedTextField(max_length=300, required=False)
    position = serializers.IntegerField(min_value=1, required=False)


class SectionUpdateInput(serializers.Serializer):
    title = TranslatedTextField(max_length=300)


class VersionOutput(serializers.ModelSerializer):
    sections = serializers.SerializerMethodField()

    class Meta:
        model = QuestionnaireVersion
        fields = ["id", "questionnaire", "number", "status", "based_on", "created_at", "published_at",
                  "content_digest", "sections"]  # fmt: skip

    def get_sections(self, version: QuestionnaireVersion) -> list[dict[str, Any]]:
        from surveys.selectors import version_tree

        return SectionOutput(version_tree(version), many=True).data  # type: ignore[return-value]


class TextRefOutput(serializers.Serializer):
    label = serializers.CharField()
    field = serializers.CharField()


class CoverageOutput(serializers.Serializer):
    language = serializers.CharField()
    total = serializers.IntegerField()
    translated = serializers.IntegerField()
    complete = serializers.BooleanField()
    missing = TextRefOutput(many=True)
    stale = TextRefOutput(many=True)


class ReviewInput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["study", "questionnaire", "section", "question", "choice", "wave"]
    )
    id = serializers.IntegerField(min_value=1)
    field = serializers.CharField(max_length=64)
    languages = serializers.ListField(child=serializers.ChoiceField(choices=registry.CODES), min_length=1)


class WaveOutput(serializers.ModelSerializer):
    name = TranslatedTextField()
    stale = StaleField()

    class Meta:
        model = Wave
        fields = [
            "id", "study", "key", "position", "name", "questionnaire_version", "anchor", "offset_months",
            "offset_days", "window_days", "stale",
        ]  # fmt: skip


class WaveUpdateInput(serializers.Serializer):
    name = TranslatedTextField(max_length=200, required=False)
    questionnaire_version = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    anchor = serializers.ChoiceField(choices=Wave.Anchor.choices, required=False)
    offset_months = serializers.IntegerField(min_value=-24, max_value=240, required=False)
    offset_days = serializers.IntegerField(min_value=-366, max_value=3660, required=False)
    window_days = serializers.IntegerField(min_value=1, max_value=3660, required=False)


class WaveInput(WaveUpdateInput):
    key = serializers.SlugField(max_length=64)
    name = TranslatedTextField(max_length=200)
    position = serializers.IntegerField(min_value=1, required=False)


class ProblemOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    field = serializers.CharField(required=False)
    details = serializers.JSONField(required=False)
