"""Consent: versioned, translated consent texts, and each participant's consent and withdrawal records."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import models
from django.db.models import Q

from participants.models.register import Participant
from surveys.models import Study
from translations.content import TranslatableModel


class ConsentText(TranslatableModel):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consent_texts")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "version"]
        constraints = [models.UniqueConstraint(fields=["study", "version"], name="unique_consent_version")]

    def __str__(self) -> str:
        return f"{self.study.slug} consent v{self.version}"

    def translation_source_language(self) -> str:
        return self.study.source_language

    def translation_languages(self) -> Sequence[str]:
        return self.study.languages

    def translation_label(self) -> str:
        return f"consent v{self.version}"


class ConsentRecord(models.Model):
    class Method(models.TextChoices):
        ON_SCREEN = "on_screen", "On screen, by the participant"
        READ_ALOUD = "read_aloud", "Read aloud, witnessed by field staff"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="consents")
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="records")
    language = models.CharField(max_length=8)
    given_at = models.DateTimeField()
    method = models.CharField(max_length=16, choices=Method.choices)
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["participant", "given_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(method="read_aloud") | Q(witnessed_by__isnull=False),
                name="read_aloud_is_witnessed",
            ),
        ]

    def __str__(self) -> str:
        return f"consent of {self.participant_id} ({self.method})"


class Withdrawal(models.Model):
    class Scope(models.TextChoices):
        STOP_CONTACT = "stop_contact", "Stop contacting me"
        ERASE = "erase", "Stop contacting me and erase my data"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="withdrawals")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    requested_at = models.DateTimeField()
    by_participant = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Free text that may name people: encrypted with the server key ring (participants/keys.py), bound to the
    # participant's pseudonym; blanked on erasure.
    reason_encrypted = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"withdrawal of {self.participant_id} ({self.scope})"
