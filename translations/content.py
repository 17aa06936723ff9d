"""Translated content: which texts a model translates, what is missing, and what went stale.

Works on any model registered with django-modeltranslation that inherits ``TranslatableModel``; this app
knows no other app. A translation is *stale* when its source text changed after the translation was
written: each translation remembers a digest of the source it was made from (``translation_digests``),
so staleness is derived by comparing digests, not by flags someone has to remember to set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from modeltranslation.translator import NotRegistered, translator
from modeltranslation.utils import build_localized_fieldname


def translated_fields(model: type[models.Model] | models.Model) -> tuple[str, ...]:
    model_class = model if isinstance(model, type) else type(model)
    try:
        options = translator.get_options_for_model(model_class)
    except NotRegistered:
        return ()
    return tuple(sorted(options.all_fields))


def text_of(instance: models.Model, field_name: str, language: str) -> str:
    return getattr(instance, build_localized_fieldname(field_name, language), None) or ""


def set_text(instance: models.Model, field_name: str, language: str, value: str) -> None:
    setattr(instance, build_localized_fieldname(field_name, language), value)


def text_along(instance: models.Model, field_name: str, chain: Iterable[str]) -> tuple[str, str]:
    """The first non-empty text of the field along a fallback chain: ``(language, text)``, or ``("", "")``."""
    for language in chain:
        if text := text_of(instance, field_name, language):
            return language, text
    return "", ""


def source_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def snapshot(instance: models.Model, languages: Iterable[str]) -> dict[tuple[str, str], str]:
    """The translated texts held by the instance; deferred (not loaded) fields are left out, not loaded."""
    loaded = instance.__dict__
    return {
        (field_name, language): loaded[localized] or ""
        for field_name in translated_fields(instance)
        for language in languages
        if (localized := build_localized_fieldname(field_name, language)) in loaded
    }


class TranslatableModel(models.Model):
    """Base for models with participant-facing translated texts."""

    translation_digests = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.record_translation_digests()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "translation_digests"}
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Any:
        instance = super().from_db(db, field_names, values)
        instance._translations_as_loaded = snapshot(instance, _all_languages())
        return instance

    def translation_source_language(self) -> str:
        raise NotImplementedError

    def translation_languages(self) -> Sequence[str]:
        raise NotImplementedError

    def translation_label(self) -> str:
        """How a coverage report names this object, e.g. ``question Q12``."""
        return f"{self._meta.verbose_name} {self.pk}"

    def record_translation_digests(self, *, reviewed: Iterable[tuple[str, str]] = ()) -> None:
        """Remember the source each changed (or explicitly reviewed) translation was made from."""
        source = self.translation_source_language()
        loaded: dict[tuple[str, str], str] = getattr(self, "_translations_as_loaded", {})
        current = snapshot(self, _all_languages())
        touched = {key for key, value in current.items() if value and loaded.get(key, "") != value}
        touched.update(reviewed)
        for field_name, language in touched:
            if language == source:
                continue
            digests = self.translation_digests.setdefault(field_name, {})
            digests[language] = source_digest(text_of(self, field_name, source))
        self._translations_as_loaded = current

    def is_translation_stale(self, field_name: str, language: str) -> bool:
        source = self.translation_source_language()
        if language == source or not text_of(self, field_name, language):
            return False
        recorded = self.translation_digests.get(field_name, {}).get(language)
        return recorded != source_digest(text_of(self, field_name, source))


def _all_languages() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(code for code, _ in settings.LANGUAGES)


@dataclass(frozen=True)
class TextRef:
    label: str
    field: str

    def __str__(self) -> str:
        return f"{self.label}: {self.field}"


@dataclass
class LanguageCoverage:
    language: str
    total: int = 0
    translated: int = 0
    missing: list[TextRef] = field(default_factory=list)
    stale: list[TextRef] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


def coverage(
    objects: Iterable[TranslatableModel], *, languages: Sequence[str], source: str
) -> list[LanguageCoverage]:
    """Per language: how many source texts exist, how many are translated, which are missing or stale.

    Only texts that exist in the source language count: an empty hint needs no translation.
    """
    report = {language: LanguageCoverage(language) for language in languages}
    for instance in objects:
        label = instance.translation_label()
        for field_name in translated_fields(instance):
            if not text_of(instance, field_name, source):
                continue
            for language, entry in report.items():
                entry.total += 1
                if text_of(instance, field_name, language):
                    entry.translated += 1
                    if instance.is_translation_stale(field_name, language):
                        entry.stale.append(TextRef(label, field_name))
                else:
                    entry.missing.append(TextRef(label, field_name))
    return list(report.values())
