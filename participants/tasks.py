"""Celery tasks: each takes ids, loads rows and calls services. The database holds all state.

Retry policy (tested in tests/participants/reminders/test_tasks.py): only TransientProviderError is retried,
with exponential backoff and jitter, at most REMINDER_MAX_RETRIES times; provider calls run on the
"providers" queue; every task has soft and hard time limits.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from functools import partial

from celery import Task, shared_task
from django.db import transaction
from django.utils import timezone

from participants.models import ParticipantWave
from participants.reminders import providers, schedules
from participants.reminders import services as reminders
from participants.reminders.schedules import schedule_closed_unanswered, schedules_sync_study

logger = logging.getLogger(__name__)
REMINDER_MAX_RETRIES = 5
# A tick hands out at most TICK_BATCH reminders per transaction (then re-queues itself), enqueued in
# messages of ENQUEUE_CHUNK ids each. A batch is one statement and one claim row (a few µs a reminder):
# 10,000 keep each transaction within tens of milliseconds, and the per-batch costs (lock, recovery,
# re-queueing, a scan that starts over from the cursor) small.
TICK_BATCH = 10_000
ENQUEUE_CHUNK = 500


def backoff_seconds(retries: int) -> int:
    """60 s, 120 s, 240 s ... capped at an hour, plus up to 20% jitter so retries do not arrive in a herd."""
    base = min(60 * 2**retries, 3600)
    return int(base + random.uniform(0, base / 5))  # noqa: S311 - jitter, not a secret


@shared_task(
    bind=True,
    name="participants.tasks.reminder_send",
    acks_late=True,
    max_retries=REMINDER_MAX_RETRIES,
    soft_time_limit=30,
    time_limit=45,
)
def reminder_send(self: Task, reminder_id: int) -> str:
    prepared = reminders.reminder_begin(reminder_id=reminder_id, now=timezone.now())
    if prepared is None:
        return "nothing to send"
    provider = providers.sms_provider() if prepared.channel == "sms" else providers.email_provider()
    message = providers.OutgoingMessage(
        to=prepared.to,
        body=prepared.body,
        subject=prepared.subject,
        idempotency_key=prepared.reminder.idempotency_key,
        status_callback_url=reminders.callback_url(provider.name, reminder_id),
    )
    try:
        result = provider.send(message)
    except providers.TransientProviderError as error:
        if error.may_have_been_sent:  # no provider dedupes: asking again could send twice
            reminders.reminder_outcome_unknown(reminder_id=reminder_id, reason=str(error))
            return "outcome unknown"
        if self.request.retries >= REMINDER_MAX_RETRIES:
            reminders.reminder_channel_failed(
                reminder_id=reminder_id, reason=f"gave up: {error}", now=timezone.now()
            )
            return "failed after retries"
        countdown = backoff_seconds(self.request.retries)
        reminders.reminder_retry_later(
            reminder_id=reminder_id,
            reason=f"retrying: {error}",
            retry_at=timezone.now() + timedelta(seconds=countdown),
        )
        raise self.retry(exc=error, countdown=countdown) from None
    except providers.PermanentProviderError as error:
        reminders.reminder_channel_failed(reminder_id=reminder_id, reason=str(error), now=timezone.now())
        return "channel failed"
    reminders.reminder_sent(
        reminder_id=reminder_id, provider=result.provider, reference=result.reference, now=timezone.now()
    )
    return "sent"


@shared_task(name="participants.tasks.reminders_tick", soft_time_limit=50, time_limit=60)
def reminders_tick(
    limit: int = TICK_BATCH,
    recover: bool = True,
    after_due_at: str | None = None,
    after_id: int | None = None,
) -> int:
    """Hand out due reminders in one bounded batch and enqueue them once the claim is committed.

    A full batch re-queues the tick for the next one, starting after this one's last row (without repeating
    the outage recovery).
    """
    after = None
    if after_due_at is not None and after_id is not None:
        after = reminders.ClaimCursor(due_at=datetime.fromisoformat(after_due_at), reminder_id=after_id)
    with transaction.atomic():
        result = reminders.reminders_claim_due(now=timezone.now(), limit=limit, recover=recover, after=after)
        for start in range(0, len(result.claimed), ENQUEUE_CHUNK):
            chunk = result.claimed[start : start + ENQUEUE_CHUNK]
            transaction.on_commit(partial(reminders_dispatch.delay, chunk))
        if limit > 0 and len(result.claimed) == limit and result.cursor is not None:
            cursor = result.cursor
            transaction.on_commit(
                partial(reminders_tick.delay, limit, False, cursor.due_at.isoformat(), cursor.reminder_id)
            )
    if result.gave_up_unknown:
        logger.warning(
            "%s reminders stuck in sending were marked failed (outcome unknown)", result.gave_up_unknown
        )
    return len(result.claimed)


@shared_task(name="participants.tasks.reminders_dispatch", soft_time_limit=50, time_limit=60)
def reminders_dispatch(reminder_ids: list[int]) -> int:
    """Queue one reminder_send per id (a chunk of one tick's claim), over one broker connection.

    One message per chunk keeps the tick short; each reminder still gets a task of its own, with its own
    retries, on the "providers" queue. Lost (Redis down, worker killed midway): the claim lapses and the
    next tick hands the reminders out again; queued twice: the second task sends nothing.
    """
    with reminder_send.app.producer_or_acquire() as producer:
        for reminder_id in reminder_ids:
            reminder_send.apply_async((reminder_id,), producer=producer)
    return len(reminder_ids)


@shared_task(name="participants.tasks.schedules_advance", soft_time_limit=50, time_limit=60)
def schedules_advance(limit: int = 1000) -> int:
    """Open windows whose time came; close the ones that ended (missed), dropping their drafts; queue again
    the resync of a study whose task was lost (see ``study_schedules_sync``)."""
    now = timezone.now()
    opening = ParticipantWave.objects.filter(
        status=ParticipantWave.Status.SCHEDULED, opens_at__lte=now, closes_at__gt=now
    )
    opened = ParticipantWave.objects.filter(pk__in=list(opening.values_list("pk", flat=True)[:limit])).update(
        status=ParticipantWave.Status.OPEN
    )
    closing = ParticipantWave.objects.filter(
        status__in=[ParticipantWave.Status.SCHEDULED, ParticipantWave.Status.OPEN], closes_at__lte=now
    ).select_related("participant", "wave")[:limit]
    closed = 0
    for schedule in closing:
        with transaction.atomic():
            if ParticipantWave.objects.filter(pk=schedule.pk, status=schedule.status).update(
                status=ParticipantWave.Status.MISSED
            ):
                schedule.status = ParticipantWave.Status.MISSED
                schedule_closed_unanswered(schedule=schedule)
                reminders.reminders_cancel(schedule=schedule, reason="window closed")
                closed += 1
    if opened == limit or closed == limit:
        transaction.on_commit(partial(schedules_advance.delay, limit))
    for study_id in schedules.study_resyncs_stale(now=now):
        logger.warning("Schedules of study %s wait for a resync that no task ran; queued again.", study_id)
        study_schedules_sync.delay(study_id)
    return opened + closed


@shared_task(name="participants.tasks.study_schedules_sync", soft_time_limit=50, time_limit=60)
def study_schedules_sync(study_id: int, after_id: int = 0, requested_at: str | None = None) -> int:
    """Recompute the windows and reminders of a study's participants after a wave was added or its timing or
    reminder policy changed, one batch of participants per task (a full batch re-queues the task for the
    next one). Run twice, or after a newer change, it changes nothing more: answered and sent stay.

    The pass's first task notes which change it serves (``requested_at`` of the study's StudyResync); the
    last one deletes that request, unless a newer change came meanwhile. Each batch touches the request, so
    ``schedules_advance`` leaves a pass in progress alone and queues a lost one again.
    """
    if after_id == 0 and requested_at is None:
        pending = schedules.study_resync_pending(study_id)
        requested_at = None if pending is None else pending.isoformat()
    result, last_id = schedules_sync_study(study_id=study_id, after_id=after_id)
    if last_id is not None:
        schedules.study_resync_touch(study_id)
        transaction.on_commit(partial(study_schedules_sync.delay, study_id, last_id, requested_at))
    elif requested_at is not None:
        schedules.study_resync_done(study_id, datetime.fromisoformat(requested_at))
    return result.changed


def study_schedules_sync_later(study_id: int) -> None:
    """Record in the caller's transaction that the study needs ``study_schedules_sync``, and queue that task
    once the transaction commits (nothing if it rolls back).

    Robust: the change is committed by then, so a broker that cannot be reached is logged rather than turned
    into an error for the request that made it; the recorded request stays, and ``schedules_advance`` queues
    the task again once it has waited ``RESYNC_STALE`` (``manage.py sync_schedules`` does it at once, by hand).
    """
    schedules.study_resync_request(study_id)
    transaction.on_commit(partial(study_schedules_sync.delay, study_id), robust=True)
