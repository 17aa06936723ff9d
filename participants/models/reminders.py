"""Reminders are rows (the outbox): planned from the schedule, handed out by Celery beat, sent by workers.

State machine: pending -> sending (a worker took it) -> sent -> delivered / failed; or cancelled (completion,
withdrawal, window closed) from pending. Every transition is a conditional UPDATE on the current state, so a
task run twice sends once. Handing a due row to the workers writes nothing on the row: the tick records the
batch of ids it handed out as one ReminderClaim, which keeps later ticks from handing them out again until
the claim's lease runs out (a task that never ran is then handed out again).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import models
from django.db.models import Q

from participants.models.schedules import ParticipantWave
from surveys.models import Wave
from translations.content import TranslatableModel


def default_reminder_days() -> list[int]:
    return [3, 7, 14]


class ReminderPolicy(TranslatableModel):
    """How a wave invites and reminds. Message texts take {link}, {wave} and {closes_on}."""

    wave = models.OneToOneField(Wave, on_delete=models.CASCADE, related_name="reminder_policy")
    send_invitation = models.BooleanField(default=True)
    reminder_days = models.JSONField(
        default=default_reminder_days, help_text="Days after opening, e.g. [3, 7, 14]."
    )
    last_chance_days = models.PositiveSmallIntegerField(null=True, blank=True, default=2)
    quiet_hours_start = models.TimeField(default=datetime.time(21, 0))
    quiet_hours_end = models.TimeField(default=datetime.time(8, 0))
    max_per_week = models.PositiveSmallIntegerField(default=3)
    invitation_text = models.TextField()
    reminder_text = models.TextField()
    last_chance_text = models.TextField()

    class Meta:
        verbose_name_plural = "reminder policies"

    def __str__(self) -> str:
        return f"reminders of {self.wave}"

    def translation_source_language(self) -> str:
        return self.wave.study.source_language

    def translation_languages(self) -> Sequence[str]:
        return self.wave.study.languages

    def translation_label(self) -> str:
        return f"reminders of wave {self.wave.key}"


class Reminder(models.Model):
    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER = "reminder", "Reminder"
        LAST_CHANCE = "last_chance", "Last chance"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # No index of its own: the unique (schedule, kind, sequence) constraint leads with it.
    schedule = models.ForeignKey(
        ParticipantWave, on_delete=models.CASCADE, related_name="reminders", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sequence = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    channel = models.CharField(max_length=16, blank=True, default="")
    channels_tried = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Not handed out again before this instant plus the lease (a task waiting out its retry backoff). In no
    # index, like every column the dispatch reads but does not filter on through an index.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=32, blank=True, default="")
    provider_reference = models.CharField(max_length=128, blank=True, default="")
    # Why it failed or was cancelled, in words without personal data.
    outcome = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "kind", "sequence"], name="one_reminder_per_slot"),
        ]
        indexes = [
            # The dispatch tick's query: due pending rows, oldest first.
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="reminder_due_pending"),
            # The outage recovery's query: rows stuck in sending.
            models.Index(
                fields=["sending_started_at"], condition=Q(status="sending"), name="reminder_sending_started"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.sequence} of {self.schedule_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"reminder-{self.pk}"


class ReminderClaim(models.Model):
    """One batch of due reminders a dispatch tick handed to the workers, at ``claimed_at``.

    While the claim is younger than the lease, no tick hands these reminders out again, unless a worker took
    one meanwhile and put it back to pending (postponed, or falling back to another channel), which its
    ``sending_started_at`` after ``claimed_at`` shows. ``last_due_at``/``last_reminder_id``: the batch's last
    (due_at, id) in dispatch order, so a tick continuing after that point skips the claims it cannot meet.
    """

    claimed_at = models.DateTimeField()
    reminder_ids = models.JSONField()
    last_due_at = models.DateTimeField()
    last_reminder_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{len(self.reminder_ids)} reminders handed out at {self.claimed_at:%Y-%m-%d %H:%M:%S}"
