"""Django admin for authors: scoped to the user's studies; published versions are read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from backend.errors import DomainError
from surveys import selectors, services
from surveys.models import (
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Section,
    Study,
    StudyMembership,
    Wave,
)
from translations.admin import TranslatedAdmin, TranslatedTabularInline


class DomainCheckedForm(forms.ModelForm):  # type: ignore[type-arg]
    """Runs the service-layer checks on the admin's form, so a refused edit is a form error, not a 500."""

    def check(self, instance: Any) -> None:
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            self.check(self.instance)
        except DomainError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)


class QuestionForm(DomainCheckedForm):
    def check(self, instance: Question) -> None:
        services.check_version_editable(instance.version)
        services.check_question(instance, earlier_variables=services.variables_before(instance))


class WaveForm(DomainCheckedForm):
    def check(self, instance: Wave) -> None:
        services.check_wave_version(study=instance.study, version=instance.questionnaire_version)


class StudyScopedAdmin(TranslatedAdmin):
    study_path = "study"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset.filter(**{f"{self.study_path}__in": selectors.studies_for(request.user)})  # type: ignore[arg-type]


class FrozenWhenPublished:
    """Objects of a published version can be looked at, never changed."""

    def _version(self, obj: Any) -> QuestionnaireVersion | None:
        raise NotImplementedError

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        version = self._version(obj) if obj is not None else None
        if version is not None and version.is_published:
            return False
        return super().has_change_permission(request, obj)  # type: ignore[misc, no-any-return]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        version = self._version(obj) if obj is not None else None
        if version is not None and version.is_published:
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc, no-any-return]


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = StudyMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Study)
class StudyAdmin(StudyScopedAdmin):
    study_path = "pk"
    list_display = ["slug", "title", "source_language", "created_at"]
    search_fields = ["slug", "title"]
    inlines = [MembershipInline]


@admin.register(Questionnaire)
class QuestionnaireAdmin(StudyScopedAdmin):
    list_display = ["slug", "title", "study"]
    list_filter = ["study"]


class SectionInline(FrozenWhenPublished, TranslatedTabularInline):
    model = Section
    extra = 0
    fields = ["position", "key", "title"]

    def _version(self, obj: Any) -> QuestionnaireVersion | None:
        return obj if isinstance(obj, QuestionnaireVersion) else None


@admin.register(QuestionnaireVersion)
class QuestionnaireVersionAdmin(FrozenWhenPublished, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["questionnaire", "number", "status", "published_at"]
    list_filter = ["status", "questionnaire__study"]
    readonly_fields = [
        "status",
        "published_at",
        "published_by",
        "content_digest",
        "based_on",
        "translation_coverage",
    ]
    inlines = [SectionInline]
    actions = ["publish", "new_draft"]

    def _version(self, obj: Any) -> QuestionnaireVersion | None:
        return obj  # type: ignore[no-any-return]

    def get_queryset(self, request: HttpRequest) -> QuerySet[QuestionnaireVersion]:
        allowed = selectors.studies_for(request.user)  # type: ignore[arg-type]
        return super().get_queryset(request).filter(questionnaire__study__in=allowed)

    @admin.display(description="Translation coverage")
    def translation_coverage(self, obj: QuestionnaireVersion) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
            (
                (entry.language, entry.translated, entry.total, "; ".join(map(str, entry.missing)) or "-",
                 "; ".join(map(str, entry.stale)) or "-")
                for entry in services.version_coverage(obj)
            ),
        )  # fmt: skip
        return format_html(
            "<table><tr><th>language</th><th>translated</th><th>missing</th><th>needs review</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Publish (freeze) the selected draft versions")
    def publish(self, request: HttpRequest, queryset: QuerySet[QuestionnaireVersion]) -> None:
        for version in queryset:
            try:
                services.version_publish(version=version, by=request.user)  # type: ignore[arg-type]
            except DomainError as error:
                self.message_user(request, error.message, level=messages.ERROR)
            else:
                self.message_user(request, f"Published {version}.")

    @admin.action(description="Start a new draft from the selected versions' questionnaires")
    def new_draft(self, request: HttpRequest, queryset: QuerySet[QuestionnaireVersion]) -> None:
        for version in queryset:
            try:
                draft = services.version_new_draft(questionnaire=version.questionnaire)
            except DomainError as error:
                self.message_user(request, error.message, level=messages.ERROR)
            else:
                self.message_user(request, f"Created {draft}.")


class ChoiceInline(FrozenWhenPublished, TranslatedTabularInline):
    model = Choice
    extra = 0
    fields = ["position", "code", "label"]

    def _version(self, obj: Any) -> QuestionnaireVersion | None:
        return obj.version if isinstance(obj, Question) else None


@admin.register(Question)
class QuestionAdmin(FrozenWhenPublished, StudyScopedAdmin):
    study_path = "version__questionnaire__study"
    list_display = ["variable", "type", "section", "version", "required"]
    list_filter = ["type", "version__questionnaire__study"]
    search_fields = ["variable", "text"]
    inlines = [ChoiceInline]
    form = QuestionForm

    def _version(self, obj: Any) -> QuestionnaireVersion | None:
        return obj.version  # type: ignore[no-any-return]


@admin.register(Wave)
class WaveAdmin(StudyScopedAdmin):
    list_display = ["key", "name", "study", "questionnaire_version", "anchor", "offset_months", "window_days"]
    list_filter = ["study"]
    form = WaveForm

    def save_model(self, request: HttpRequest, obj: Wave, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or services.WAVE_TIMING & set(form.changed_data):
            services.wave_timing_changed(obj)
