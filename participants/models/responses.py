"""Answers: drafts encrypted with the server key ring, completed responses sealed to the study's key.

Once a response is completed only metadata stays readable here (who, which wave and version, when, which
language, how big); the answers are an HPKE ciphertext that only the research team's private key opens.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from participants.models.register import Participant
from surveys.models import QuestionnaireVersion, Study, Wave


class StudyKey(models.Model):
    """A public key of the research team. The private half never reaches the server."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="keys")
    suite = models.CharField(max_length=64)
    public_key_pem = models.TextField()
    fingerprint = models.CharField(max_length=80, unique=True)
    label = models.CharField(max_length=200, blank=True, default="")
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "-registered_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.study.slug} key {self.fingerprint[:23]}"

    @property
    def is_active(self) -> bool:
        return self.retired_at is None


class Response(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="responses")
    wave = models.ForeignKey(Wave, on_delete=models.PROTECT, related_name="responses")
    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.PROTECT, related_name="responses")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    language = models.CharField(max_length=8)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # While in progress: the answers so far, a key-ring token bound to this response. Emptied on completion.
    draft_encrypted = models.TextField(blank=True, default="")
    sections_submitted = models.JSONField(default=list, blank=True)
    # Once completed: the HPKE ciphertext and what is needed to open it.
    sealed_payload = models.BinaryField(null=True, blank=True, editable=False)
    study_key = models.ForeignKey(StudyKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    suite = models.CharField(max_length=64, blank=True, default="")
    key_fingerprint = models.CharField(max_length=80, blank=True, default="")
    sealed_size = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "wave"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave"], name="one_response_per_wave"),
            models.CheckConstraint(
                condition=Q(status="in_progress") | (Q(sealed_payload__isnull=False) & Q(draft_encrypted="")),
                name="completed_is_sealed_without_draft",
            ),
        ]
        indexes = [models.Index(fields=["wave", "status"])]

    def __str__(self) -> str:
        return f"response {self.pk} ({self.status})"


class Submission(models.Model):
    """One client request, by its client-generated id: a retry finds this row and gets the same result."""

    class Kind(models.TextChoices):
        PAGE = "page", "Page of answers"
        COMPLETE = "complete", "Completion"

    submission_id = models.UUIDField(unique=True)
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="submissions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Keyed digests (server key ring) of the canonical request, whole and without its answers: the same id
    # with another request is a conflict, not a retry. The whole one is emptied once the response is sealed
    # (it could be matched against guessed answers); the envelope stays (participants/responses/services.py).
    body_digest = models.CharField(max_length=64)
    envelope_digest = models.CharField(max_length=64, blank=True, default="")
    result = models.JSONField(help_text="The answer given the first time; it holds no answers.")
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.submission_id}"
