"""Computing each participant's windows for each wave, and keeping them right when dates change.

A wave opens at local midnight of anchor date + offset (months first, clamped at month ends: 31 January +
1 month is 28 or 29 February), in the participant's time zone for that wave: the enrollment site's before
arrival, Europe/Stockholm after. It stays open ``window_days``; a wave anchored on enrollment closes at the
planned departure at the latest, since it is the pre-departure wave.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from backend.errors import Conflict
from participants.models import Participant, ParticipantWave, StudyResync
from surveys.models import Wave

SWEDEN = "Europe/Stockholm"
# Final outcomes without an answer: a row moved to one of them never gets its draft submitted.
UNANSWERED = frozenset({ParticipantWave.Status.MISSED, ParticipantWave.Status.WITHDRAWN})


class WaveNotOpen(Conflict):
    code = "wave_not_open"


@dataclass(frozen=True)
class Window:
    anchor_date: datetime.date
    opens_at: datetime.datetime
    closes_at: datetime.datetime
    time_zone: str


def anchor_date(participant: Participant, wave: Wave) -> datetime.date | None:
    return {
        Wave.Anchor.ENROLLMENT: participant.enrolled_on,
        Wave.Anchor.DEPARTURE: participant.planned_departure_on,
        Wave.Anchor.ARRIVAL: participant.arrived_on,
    }[Wave.Anchor(wave.anchor)]


def _local_midnight(day: datetime.date, zone: str) -> datetime.datetime:
    # zoneinfo resolves midnight correctly on DST change days (Stockholm changes at 02:00/03:00).
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zoneinfo.ZoneInfo(zone))


def window_for(participant: Participant, wave: Wave) -> Window | None:
    anchor = anchor_date(participant, wave)
    if anchor is None:
        return None
    opens_on = anchor + relativedelta(months=wave.offset_months) + datetime.timedelta(days=wave.offset_days)
    in_sweden = participant.arrived_on is not None and opens_on >= participant.arrived_on
    zone = SWEDEN if in_sweden or wave.anchor == Wave.Anchor.ARRIVAL else participant.site.time_zone
    closes_on = opens_on + datetime.timedelta(days=wave.window_days)
    departure = participant.planned_departure_on
    if wave.anchor == Wave.Anchor.ENROLLMENT and departure is not None and opens_on < departure < closes_on:
        closes_on = departure
    return Window(anchor, _local_midnight(opens_on, zone), _local_midnight(closes_on, zone), zone)


def status_at(window: Window, now: datetime.datetime) -> str:
    if now < window.opens_at:
        return ParticipantWave.Status.SCHEDULED
    if now < window.closes_at:
        return ParticipantWave.Status.OPEN
    return ParticipantWave.Status.MISSED


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    removed: int

    def __add__(self, other: SyncResult) -> SyncResult:
        return SyncResult(
            self.created + other.created, self.updated + other.updated, self.removed + other.removed
        )

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.removed


@transaction.atomic
def schedules_sync(*, participant: Participant, now: datetime.datetime | None = None) -> SyncResult:
    """Materialise or move the participant's windows after a date changed; what was answered stays."""
    from participants.reminders.services import reminders_plan

    now = now or timezone.now()
    participant = Participant.objects.select_related("site", "study").get(pk=participant.pk)
    existing = {
        row.wave_id: row
        for row in ParticipantWave.objects.select_for_update().filter(participant=participant)
    }
    created = updated = removed = 0
    withdrawn = participant.status == Participant.Status.WITHDRAWN or not participant.may_be_contacted
    for wave in participant.study.waves.all():
        row = existing.get(wave.pk)
        if row is not None and row.status in ParticipantWave.FINAL:
            continue
        window = window_for(participant, wave)
        if withdrawn:
            if row is None:
                # Its anchor date was removed and its draft kept for when the date is known again: the
                # participant withdrew, so it will not be answered; the draft goes.
                _drafts_delete(participant=participant, wave=wave)
            elif row.status != ParticipantWave.Status.MISSED:  # a missed wave stays missed
                row.status = ParticipantWave.Status.WITHDRAWN
                row.save(update_fields=["status", "updated_at"])
                schedule_closed_unanswered(schedule=row)
                updated += 1
            continue
        if window is None:
            if row is not None:  # the anchor date was removed: nothing to schedule until it is known again
                # Its draft stays: the date may be entered again and the window reopen (if it is then past,
                # the row comes back missed and the draft goes with it).
                row.delete()
                removed += 1
            continue
        fields = {"anchor_date": window.anchor_date, "opens_at": window.opens_at, "closes_at": window.closes_at,
                  "time_zone": window.time_zone, "status": status_at(window, now)}  # fmt: skip
        # A changed date put the window in the past (a row created missed may have a draft kept from before its
        # anchor date was removed).
        closing = fields["status"] == ParticipantWave.Status.MISSED and (
            row is None or row.status != fields["status"]
        )
        if row is None:
            row = ParticipantWave.objects.create(participant=participant, wave=wave, **fields)
            created += 1
        elif any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
            updated += 1
        if closing:
            schedule_closed_unanswered(schedule=row)
        reminders_plan(schedule=row, now=now)
    return SyncResult(created, updated, removed)


STUDY_SYNC_BATCH = 200  # participants per transaction of schedules_sync_study


def schedules_sync_study(
    *, study_id: int, after_id: int = 0, limit: int | None = None, now: datetime.datetime | None = None
) -> tuple[SyncResult, int | None]:
    """Sync the windows of the study's next ``limit`` participants (by id, after ``after_id``), after a wave
    was added or its timing or reminder policy changed. Returns the counts and the last participant's id,
    or None once every participant has been seen. Each participant is synced in a transaction of its own
    (what ``schedules_sync`` takes), so one batch never holds many participants' locks."""
    limit = limit or STUDY_SYNC_BATCH
    ids = list(
        Participant.objects.filter(study_id=study_id, erased_at=None, pk__gt=after_id)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    total = SyncResult(0, 0, 0)
    for participant_id in ids:
        total += schedules_sync(participant=Participant(pk=participant_id), now=now)
    return total, (ids[-1] if len(ids) == limit else None)


# A resync request no task has queued or advanced for this long is queued again by ``schedules_advance``: its
# task was lost. Each batch of a pass takes at most a minute (the task's hard limit) and touches the request.
RESYNC_STALE = datetime.timedelta(minutes=10)


def study_resync_request(study_id: int, *, now: datetime.datetime | None = None) -> None:
    """Record, in the caller's transaction, that the study's schedules must be recomputed (one row per study:
    a newer change moves its ``requested_at``)."""
    now = now or timezone.now()
    StudyResync.objects.bulk_create(
        [StudyResync(study_id=study_id, requested_at=now, touched_at=now)],
        update_conflicts=True, unique_fields=["study"], update_fields=["requested_at", "touched_at"],
    )  # fmt: skip


def study_resync_pending(study_id: int) -> datetime.datetime | None:
    """When the latest change that the study's schedules still wait for was made (None: they wait for none)."""
    return StudyResync.objects.filter(study_id=study_id).values_list("requested_at", flat=True).first()


def study_resync_touch(study_id: int, *, now: datetime.datetime | None = None) -> None:
    StudyResync.objects.filter(study_id=study_id).update(touched_at=now or timezone.now())


def study_resync_done(study_id: int, requested_at: datetime.datetime) -> bool:
    """A pass that began after the change of ``requested_at`` has seen every participant: the request goes,
    unless a newer change came meanwhile (whose own task then makes another pass)."""
    deleted, _ = StudyResync.objects.filter(study_id=study_id, requested_at=requested_at).delete()
    return bool(deleted)


def study_resyncs_stale(*, now: datetime.datetime | None = None, limit: int = 100) -> list[int]:
    """The studies whose resync no task has touched for ``RESYNC_STALE``, touched now (so the next call leaves
    them alone while the task that the caller queues for them runs)."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            StudyResync.objects.select_for_update(skip_locked=True)
            .filter(touched_at__lt=now - RESYNC_STALE)
            .order_by("touched_at")
            .values_list("study_id", flat=True)[:limit]
        )
        StudyResync.objects.filter(study_id__in=stale).update(touched_at=now)
    return stale


def schedule_closed_unanswered(*, schedule: ParticipantWave) -> int:
    """The row has just been moved to missed or withdrawn, in the caller's transaction: its draft goes too.

    Drafts live only while the wave can still be answered: its window closed, or the participant withdrew
    and will not answer. Only the in-progress response is deleted; a completed (sealed) one never is.
    """
    if schedule.status not in UNANSWERED:
        raise ValueError(f"Schedule {schedule.pk} is {schedule.status}, not missed or withdrawn.")
    return _drafts_delete(participant=schedule.participant, wave=schedule.wave)


def _drafts_delete(*, participant: Participant, wave: Wave) -> int:
    from participants.responses.services import drafts_delete_for  # that module imports this one

    return drafts_delete_for(participant=participant, wave=wave)


def check_schedule_open(
    *, participant: Participant, wave: Wave, now: datetime.datetime | None = None
) -> ParticipantWave:
    row = ParticipantWave.objects.filter(participant=participant, wave=wave).order_by("pk").first()
    if row is None:
        raise WaveNotOpen(f"Wave '{wave.key}' is not scheduled for you yet (its date is not known).")
    return schedule_check_open(row, wave_key=wave.key, now=now)


def schedule_check_open(
    row: ParticipantWave, *, wave_key: str, now: datetime.datetime | None = None
) -> ParticipantWave:
    """The row itself if its window is open now (or it is completed); raises with the reason otherwise."""
    now = now or timezone.now()
    if row.status == ParticipantWave.Status.COMPLETED:
        return row  # completion itself answers "already completed", idempotently
    if row.status in ParticipantWave.FINAL:
        raise WaveNotOpen(f"Wave '{wave_key}' is closed for you ({row.status}).")
    if now < row.opens_at:
        raise WaveNotOpen(
            f"Wave '{wave_key}' opens on {row.opens_at.astimezone(zoneinfo.ZoneInfo(row.time_zone)):%Y-%m-%d}."
        )
    if now >= row.closes_at:
        raise WaveNotOpen(
            f"Wave '{wave_key}' closed on {row.closes_at.astimezone(zoneinfo.ZoneInfo(row.time_zone)):%Y-%m-%d}."
        )
    return row


def schedule_mark_completed(*, schedule: ParticipantWave, at: datetime.datetime) -> None:
    """The wave is answered: the schedule row says so and every reminder still to come is cancelled.

    The caller holds the row's lock (it read it with the submission's ``FOR UPDATE``).
    """
    from participants.reminders.services import reminders_cancel

    completed = (
        ParticipantWave.objects.filter(pk=schedule.pk)
        .exclude(status=ParticipantWave.Status.COMPLETED)
        .update(status=ParticipantWave.Status.COMPLETED, completed_at=at, updated_at=at)
    )
    if completed:
        schedule.status, schedule.completed_at = ParticipantWave.Status.COMPLETED, at
        reminders_cancel(schedule=schedule, reason="completed")
