"""When each participant answers each wave: one row per participant and wave, once its anchor date is known."""

from __future__ import annotations

from django.db import models

from participants.models.register import Participant
from surveys.models import Study, Wave


class ParticipantWave(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        OPEN = "open", "Open"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        EXCUSED = "excused", "Excused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    FINAL = frozenset({Status.COMPLETED, Status.EXCUSED, Status.WITHDRAWN})

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="schedule")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="schedule")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    anchor_date = models.DateField()
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, help_text="Where the participant is for this wave.")
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["participant", "opens_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave"], name="one_schedule_per_wave"),
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")), name="window_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["status", "opens_at"]), models.Index(fields=["status", "closes_at"])]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.wave_id} {self.status}"


class StudyResync(models.Model):
    """A study whose participants' windows and reminders must be recomputed: a wave was added or retimed, or a
    reminder policy changed. Written in the transaction of the change, so the need outlives a task that is
    lost (broker unreachable at commit, process gone before it queued): ``schedules_advance`` queues the work
    again for a request no task has touched for ``RESYNC_STALE``. Deleted by the pass that finished it,
    unless a newer change came meanwhile (``requested_at`` moved)."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField(help_text="The latest change that needs it.")
    touched_at = models.DateTimeField(help_text="When a task was last queued for it or made progress.")

    def __str__(self) -> str:
        return f"resync of study {self.study_id}"
