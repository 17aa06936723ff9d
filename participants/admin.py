"""Django admin for the panel, scoped like the API: field staff see their sites, study admins their studies.

Contact details are never shown here (they are encrypted; field staff read them through the audited API).
The audit log, schedules and reminders are read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from backend.errors import DomainError
from participants import selectors
from participants.crypto import sealing
from participants.models import (
    AuditEntry,
    Cohort,
    ConsentText,
    InterventionType,
    Participant,
    ParticipantWave,
    Reminder,
    ReminderPolicy,
    Site,
    StaffAssignment,
    StudyKey,
)
from participants.responses.services import study_key_register, study_key_retire
from participants.tasks import study_schedules_sync_later
from surveys.selectors import ADMINS, studies_for
from translations.admin import TranslatedAdmin


def _admin_studies(request: HttpRequest) -> Any:
    return studies_for(request.user, roles=ADMINS)  # type: ignore[arg-type]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StaffAssignmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = StaffAssignment
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "study", "country", "time_zone"]
    inlines = [StaffAssignmentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        return super().get_queryset(request).filter(study__in=_admin_studies(request))


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "study", "site", "planned_departure_on"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cohort]:
        return (
            super()
            .get_queryset(request)
            .filter(
                Q(study__in=_admin_studies(request)) | Q(site__in=selectors.sites_for_staff(request.user))
            )
        )


@admin.register(InterventionType)
class InterventionTypeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "label", "study"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InterventionType]:
        return super().get_queryset(request).filter(study__in=_admin_studies(request))


@admin.register(ConsentText)
class ConsentTextAdmin(TranslatedAdmin):
    list_display = ["study", "version", "title", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentText]:
        return super().get_queryset(request).filter(study__in=studies_for(request.user))  # type: ignore[arg-type]


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(TranslatedAdmin):
    list_display = ["wave", "send_invitation", "reminder_days", "last_chance_days", "max_per_week"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReminderPolicy]:
        return super().get_queryset(request).filter(wave__study__in=studies_for(request.user))  # type: ignore[arg-type]

    # Reminders already planned follow the policy: the study's schedules are recomputed once this commits.
    def save_model(self, request: HttpRequest, obj: ReminderPolicy, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        study_schedules_sync_later(obj.wave.study_id)

    def delete_model(self, request: HttpRequest, obj: ReminderPolicy) -> None:
        super().delete_model(request, obj)
        study_schedules_sync_later(obj.wave.study_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ReminderPolicy]) -> None:
        studies = set(queryset.values_list("wave__study_id", flat=True))
        super().delete_queryset(request, queryset)
        for study_id in sorted(studies):  # one order for every writer of these rows
            study_schedules_sync_later(study_id)


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Pseudonymous register for field staff of the participant's site (no contact details here)."""

    list_display = [
        "pseudonym",
        "site",
        "cohort",
        "preferred_language",
        "status",
        "enrolled_on",
        "arrived_on",
    ]
    list_filter = ["status", "site", "cohort"]
    search_fields = ["pseudonym"]
    readonly_fields = [
        "pseudonym",
        "study",
        "site",
        "status",
        "contact_stopped_at",
        "erased_at",
        "created_at",
        "enrollment_request_id",
    ]
    exclude: list[str] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return super().get_queryset(request).filter(site__in=selectors.sites_for_staff(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # enrollment records consent and issues credentials: the API does it

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # withdrawal and erasure are recorded operations, not deletes


@admin.register(ParticipantWave)
class ParticipantWaveAdmin(ReadOnlyAdmin):
    list_display = ["participant", "wave", "status", "opens_at", "closes_at", "completed_at"]
    list_filter = ["status", "wave"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ParticipantWave]:
        return (
            super()
            .get_queryset(request)
            .filter(participant__site__in=selectors.sites_for_staff(request.user))
        )


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["schedule", "kind", "sequence", "due_at", "status", "channel", "attempts", "outcome"]
    list_filter = ["status", "kind", "channel"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reminder]:
        return (
            super()
            .get_queryset(request)
            .filter(schedule__participant__site__in=selectors.sites_for_staff(request.user))
        )


class StudyKeyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = StudyKey
        fields = ["study", "suite", "public_key_pem", "label"]
        widgets = {"suite": forms.Select(choices=[(suite, suite) for suite in sealing.supported_suites()])}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        try:
            public_key = sealing.public_key_from_pem(
                cleaned.get("public_key_pem", ""), suite=cleaned.get("suite", "")
            )
        except sealing.SealingError as error:
            raise forms.ValidationError({"public_key_pem": str(error)}) from None
        if StudyKey.objects.filter(fingerprint=sealing.fingerprint(public_key)).exists():
            raise forms.ValidationError({"public_key_pem": "This key is registered already."})
        return cleaned

    def _post_clean(self) -> None:
        # Only copy the fields over: the service fills the fingerprint, which model validation would want now.
        self.instance = construct_instance(self, self.instance, fields=self._meta.fields)


@admin.register(StudyKey)
class StudyKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Study admins register keys (made with `manage.py study_keygen`) and retire them; both are audited."""

    form = StudyKeyForm
    list_display = ["study", "fingerprint", "suite", "label", "registered_at", "retired_at"]
    actions = ["retire"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StudyKey]:
        return super().get_queryset(request).filter(study__in=_admin_studies(request))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "study":
            kwargs["queryset"] = _admin_studies(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # responses sealed to a key must stay openable: retire it instead

    def save_model(self, request: HttpRequest, obj: StudyKey, form: Any, change: bool) -> None:
        try:
            registered = study_key_register(
                study=obj.study,
                public_key_pem=obj.public_key_pem,
                suite=obj.suite,
                label=obj.label,
                by=request.user,  # type: ignore[arg-type]
            )
        except DomainError as error:
            self.message_user(request, error.message, level=messages.ERROR)
            return
        obj.pk, obj.fingerprint, obj.registered_at = (
            registered.pk,
            registered.fingerprint,
            registered.registered_at,
        )

    def response_add(self, request: HttpRequest, obj: StudyKey, post_url_continue: str | None = None) -> Any:
        if obj.pk is None:
            # Refused by the service (the same key registered meanwhile): its message is shown, not "added".
            return HttpResponseRedirect(reverse("admin:participants_studykey_changelist"))
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Retire the selected keys (new responses use the newest active key)")
    def retire(self, request: HttpRequest, queryset: QuerySet[StudyKey]) -> None:
        for key in queryset:
            study_key_retire(key=key, by=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"Retired {queryset.count()} key(s).")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "action", "actor", "participant", "study"]
    list_filter = ["action"]
    search_fields = ["participant"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        return super().get_queryset(request).filter(study__in=_admin_studies(request))
