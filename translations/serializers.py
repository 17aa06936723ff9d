"""Serializer fields for translated texts: ``{"en": "...", "ar": "..."}`` in and out."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from translations import registry
from translations.content import text_of


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "example": {"en": "How important is family in your life?", "ar": "ما مدى أهمية العائلة في حياتك؟"},
        "description": "Text per language code (BCP 47, from the language registry).",
    }
)
class TranslatedTextField(serializers.Field):
    default_error_messages = {
        "not_a_dict": "Expected an object mapping language codes to texts.",
        "unknown_language": "Unknown language code '{code}'.",
        "not_text": "The text for '{code}' must be a string.",
        "too_long": "The text for '{code}' is longer than {max_length} characters.",
        "null_character": "The text for '{code}' contains a NUL character.",
    }

    def __init__(self, *, max_length: int = 5000, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("not_a_dict")
        for code, text in data.items():
            if not registry.is_known(code):
                self.fail("unknown_language", code=str(code)[:20])
            if not isinstance(text, str):
                self.fail("not_text", code=code)
            if len(text) > self.max_length:
                self.fail("too_long", code=code, max_length=self.max_length)
            if "\x00" in text:
                self.fail("null_character", code=code)
        return dict(data)

    def to_representation(self, value: Any) -> dict[str, str]:
        # ``value`` is the model instance (source="*"); every study language is listed, empty when missing.
        instance, field_name = value, self.field_name
        return {code: text_of(instance, field_name, code) for code in instance.translation_languages()}

    def get_attribute(self, instance: Any) -> Any:
        return instance


class LanguageSerializer(serializers.Serializer):
    code = serializers.CharField()
    native_name = serializers.CharField()
    english_name = serializers.CharField()
    direction = serializers.ChoiceField(choices=["ltr", "rtl"])
    fallbacks = serializers.ListField(child=serializers.CharField())


__all__ = ["LanguageSerializer", "OpenApiTypes", "TranslatedTextField"]
