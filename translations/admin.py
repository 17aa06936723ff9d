"""Admin helpers for translated models: modeltranslation tabs, right-to-left fields written right-to-left."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest
from modeltranslation.admin import TabbedTranslationAdmin, TranslationStackedInline, TranslationTabularInline

from translations import registry


def _rtl(formfield: Any, db_field: models.Field) -> Any:  # type: ignore[type-arg]
    language = getattr(db_field, "language", None)
    if formfield is not None and language and registry.is_known(language):
        if registry.get(language).direction == "rtl":
            formfield.widget.attrs.update({"dir": "rtl", "lang": language})
        else:
            formfield.widget.attrs.setdefault("lang", language)
    return formfield


class RtlAwareMixin:
    def formfield_for_dbfield(self, db_field: models.Field, request: HttpRequest, **kwargs: Any) -> Any:  # type: ignore[type-arg]
        return _rtl(super().formfield_for_dbfield(db_field, request, **kwargs), db_field)  # type: ignore[misc]


class TranslatedAdmin(RtlAwareMixin, TabbedTranslationAdmin):  # type: ignore[misc]
    pass


class TranslatedTabularInline(RtlAwareMixin, TranslationTabularInline):  # type: ignore[misc]
    pass


class TranslatedStackedInline(RtlAwareMixin, TranslationStackedInline):  # type: ignore[misc]
    pass
