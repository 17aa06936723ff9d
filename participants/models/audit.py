"""The audit log: append-only, each entry chained to the previous one by a keyed hash."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from surveys.models import Study


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CONTACT_VIEWED = "contact.viewed", "Contact details viewed"
        CONTACT_CHANGED = "contact.changed", "Contact details changed"
        ENROLLED = "participant.enrolled", "Participant enrolled"
        EDITED = "participant.edited", "Participant edited"
        CONSENT_RECORDED = "consent.recorded", "Consent recorded"
        WITHDRAWN = "participant.withdrawn", "Participant withdrew"
        ERASED = "participant.erased", "Participant's data erased"
        CODE_REISSUED = "access.code_reissued", "Access code reissued"
        KEYS_ROTATED = "keys.rotated", "Encryption keys rotated"
        STUDY_KEY_REGISTERED = "study_key.registered", "Study key registered"
        STUDY_KEY_RETIRED = "study_key.retired", "Study key retired"
        RESPONSES_DELETED = "responses.deleted", "Sealed responses deleted"
        EXPORT_CREATED = "export.created", "Export created"
        BULK_ENROLLED = "participant.bulk_enrolled", "Cohort enrolled from CSV"

    at = models.DateTimeField()
    action = models.CharField(max_length=40, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Pseudonyms, not foreign keys: the log outlives erasure and must not cascade.
    actor_participant = models.CharField(max_length=9, blank=True, default="")
    study = models.ForeignKey(Study, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    participant = models.CharField(max_length=9, blank=True, default="", db_index=True)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")
