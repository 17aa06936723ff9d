"""Django admin for the panel, scoped like the API: field staff see their sites, study admins their studies.

Contact details are never shown here (they are encrypted; field staff read them through the audited API).
The audit log, schedules and reminders are read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from participants import selectors
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


@admin.register(StudyKey)
class StudyKeyAdmin(ReadOnlyAdmin):
    """Register and retire keys through the API (audited); here they can be looked at."""

    list_display = ["study", "fingerprint", "suite", "label", "registered_at", "retired_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StudyKey]:
        return super().get_queryset(request).filter(study__in=_admin_studies(request))


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "action", "actor", "participant", "study"]
    list_filter = ["action"]
    search_fields = ["participant"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        return super().get_queryset(request).filter(study__in=_admin_studies(request))
