"""Planning, claiming and sending reminders; at most once per reminder, never after its window closed."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from participants.models import (
    ContactProfile,
    Participant,
    ParticipantWave,
    Reminder,
    ReminderClaim,
    ReminderPolicy,
)
from participants.reminders import messages as reminder_messages
from participants.responses.services import study_has_key

SWEDEN = "Europe/Stockholm"
ACTIVE = (Reminder.Status.PENDING,)
STUCK_AFTER = datetime.timedelta(minutes=15)
# How long a claim keeps its reminders from being handed out again: a task not run by then was lost.
LEASE = STUCK_AFTER
CLAIM_LOCK = 0x52454D49  # pg_advisory_xact_lock key of the reminder dispatch ("REMI")
# How long an invitation waits before it looks again for the study's public key (without one, the wave
# cannot be answered: responses could not be sealed).
NO_KEY_RETRY = datetime.timedelta(hours=1)


def policy_for(schedule: ParticipantWave) -> ReminderPolicy:
    policy = ReminderPolicy.objects.filter(wave_id=schedule.wave_id).first()
    return policy or ReminderPolicy(wave=schedule.wave)  # unsaved defaults; texts fall back to the catalogue


def local_zone(participant: Participant, at: datetime.datetime) -> zoneinfo.ZoneInfo:
    """Before arrival the enrollment site's time zone, after arrival Sweden's."""
    arrived = (
        participant.arrived_on is not None
        and at.astimezone(zoneinfo.ZoneInfo(SWEDEN)).date() >= participant.arrived_on
    )
    return zoneinfo.ZoneInfo(SWEDEN if arrived else participant.site.time_zone)


def outside_quiet_hours(
    at: datetime.datetime, *, zone: zoneinfo.ZoneInfo, start: datetime.time, end: datetime.time
) -> datetime.datetime:
    """``at``, or the end of the quiet hours it falls in (local wall-clock time, DST-aware)."""
    local = at.astimezone(zone)
    clock = local.time()
    quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return at
    day = local.date() if clock < end else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, end, tzinfo=zone).astimezone(datetime.UTC)


def _desired(schedule: ParticipantWave, policy: ReminderPolicy) -> list[tuple[str, int, datetime.datetime]]:
    slots: list[tuple[str, int, datetime.datetime]] = []
    if policy.send_invitation:
        slots.append((Reminder.Kind.INVITATION, 0, schedule.opens_at))
    for sequence, days in enumerate(
        sorted({int(day) for day in policy.reminder_days if int(day) > 0}), start=1
    ):
        slots.append((Reminder.Kind.REMINDER, sequence, schedule.opens_at + datetime.timedelta(days=days)))
    if policy.last_chance_days:
        slots.append(
            (
                Reminder.Kind.LAST_CHANCE,
                0,
                schedule.closes_at - datetime.timedelta(days=policy.last_chance_days),
            )
        )
    return [
        (kind, sequence, due)
        for kind, sequence, due in slots
        if schedule.opens_at <= due < schedule.closes_at
    ]


@transaction.atomic
def reminders_plan(*, schedule: ParticipantWave, now: datetime.datetime | None = None) -> None:
    """Create or move the schedule's future messages; sent ones stay as they were.

    A closed window (missed) has none left to send. Messages cancelled unsent (the window closed, a slot no
    longer fitted) come back when a corrected date reopens the window or makes the slot fit again.
    """
    if schedule.status in ParticipantWave.FINAL:
        reminders_cancel(schedule=schedule, reason=f"schedule {schedule.status}")
        return
    if schedule.status == ParticipantWave.Status.MISSED:
        reminders_cancel(schedule=schedule, reason="window closed")
        return
    policy = policy_for(schedule)
    now = now or timezone.now()
    wanted = {(kind, sequence): due for kind, sequence, due in _desired(schedule, policy)}
    existing = {
        (row.kind, row.sequence): row
        for row in Reminder.objects.select_for_update().filter(schedule=schedule)
    }
    moves: dict[int, datetime.datetime] = {}
    revived: dict[int, datetime.datetime] = {}
    for slot, due in wanted.items():
        row = existing.get(slot)
        # A window materialised or reopened late (arrival entered afterwards): one invitation, not a burst of
        # overdue reminders.
        overdue = due < now and slot[0] != Reminder.Kind.INVITATION
        if row is None:
            if not overdue:
                Reminder.objects.create(schedule=schedule, kind=slot[0], sequence=slot[1], due_at=due)
        elif row.status == Reminder.Status.PENDING and row.due_at != due:
            moves[row.pk] = due
        elif row.status == Reminder.Status.CANCELLED and not overdue:
            revived[row.pk] = due
    for reminder_id, due in revived.items():
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.CANCELLED).update(
            status=Reminder.Status.PENDING, due_at=due, outcome=""
        )
    # One handed out to a worker goes out as it was (as before the move).
    held = reminders_handed_out(reminder_ids=list(moves), now=now) if moves else set()
    for reminder_id, due in moves.items():
        if reminder_id not in held:
            Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.PENDING).update(due_at=due)
    stale = [row.pk for slot, row in existing.items() if slot not in wanted]
    Reminder.objects.filter(pk__in=stale, status__in=ACTIVE).update(
        status=Reminder.Status.CANCELLED, outcome="no longer planned"
    )


def reminders_cancel(*, schedule: ParticipantWave, reason: str) -> int:
    return Reminder.objects.filter(schedule=schedule, status__in=ACTIVE).update(
        status=Reminder.Status.CANCELLED, outcome=reason[:300]
    )


def reminders_cancel_for_participant(*, participant: Participant, reason: str) -> int:
    return Reminder.objects.filter(schedule__participant=participant, status__in=ACTIVE).update(
        status=Reminder.Status.CANCELLED, outcome=reason[:300]
    )


@dataclass(frozen=True)
class ClaimCursor:
    """Where a batch of the dispatch ended, in its order (due_at, id): the next batch starts after it."""

    due_at: datetime.datetime
    reminder_id: int


@dataclass(frozen=True)
class ClaimResult:
    claimed: list[int]
    requeued_stale: int
    gave_up_unknown: int
    cursor: ClaimCursor | None = None


def reminders_claim_due(
    *, now: datetime.datetime, limit: int, recover: bool = True, after: ClaimCursor | None = None
) -> ClaimResult:
    """Hand out up to ``limit`` due reminders (oldest first, after ``after``) and record them as one claim.

    Nothing is written on the reminders: a claim younger than LEASE keeps its reminders from being handed out
    again, an older one has lapsed (its tasks never ran: the reminders go out again). Claimers take a
    transaction-level lock first, so two ticks at once hand out disjoint sets: the second waits for the
    first's claim (a few milliseconds) and then takes what is left. The workers need no lock: each
    reminder's own conditional UPDATE pending -> sending sends it at most once, whoever handed it out.

    With ``recover`` it also mends what an outage left behind: lapsed claims are dropped (counted in
    ``requeued_stale``: their reminders still pending); rows stuck in sending (a worker died mid-call) are
    marked failed, never resent.
    """
    # No savepoint (the tick calls this inside its own transaction): every statement counts here.
    with transaction.atomic(savepoint=False):
        _lock_claims()
        stale = gave_up = 0
        if recover:
            stale = _drop_lapsed_claims(now=now)
            gave_up = _resolve_stuck_sending(now=now)
        if limit <= 0:
            return ClaimResult(claimed=[], requeued_stale=stale, gave_up_unknown=gave_up)
        ids, cursor = _claim_batch(now=now, limit=limit, after=after)
    return ClaimResult(claimed=ids, requeued_stale=stale, gave_up_unknown=gave_up, cursor=cursor)


def _lock_claims() -> None:
    # One transaction-level advisory lock for everyone who hands out reminders, taken in a statement of its
    # own: the next statement's snapshot then sees the claim of a tick this one waited for. No parallel
    # workers for the batch's query either: starting them costs more than the scan of one batch. SQLite
    # (make run, one process) has no such lock and needs none; were two ticks to overlap there, a task
    # would be queued twice and the second would send nothing.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('max_parallel_workers_per_gather', '0', true), pg_advisory_xact_lock(%s)",
                [CLAIM_LOCK],
            )


def _claim_batch(
    *, now: datetime.datetime, limit: int, after: ClaimCursor | None
) -> tuple[list[int], ClaimCursor | None]:
    """The next batch of due reminders no live claim holds, recorded as one claim; and where it ends."""
    since = now - LEASE
    after = after or ClaimCursor(due_at=datetime.datetime.min.replace(tzinfo=datetime.UTC), reminder_id=0)
    if connection.vendor == "postgresql":
        reminder, claim = Reminder._meta.db_table, ReminderClaim._meta.db_table
        with connection.cursor() as cursor:
            # One statement: the batch in dispatch order, minus the reminders of live claims (those that
            # meet this range: a claim whose last row lies before ``after`` covers nothing after it, barring
            # a due_at moved since, and then the cost is a second task that sends nothing), recorded as a
            # claim, returned as one array (in no particular order) with the batch's last (due_at, id).
            cursor.execute(
                f"""WITH live AS (
                        SELECT (jsonb_array_elements(c.reminder_ids))::bigint AS id, c.claimed_at
                        FROM {claim} c
                        WHERE c.claimed_at > %(since)s
                            AND (c.last_due_at, c.last_reminder_id) > (%(after_due)s, %(after_id)s)
                    ), batch AS (
                        SELECT r.id, r.due_at FROM {reminder} r
                        WHERE r.status = %(pending)s AND r.due_at <= %(now)s
                            AND (r.due_at, r.id) > (%(after_due)s, %(after_id)s)
                            AND (r.claimed_at IS NULL OR r.claimed_at <= %(since)s)
                            AND NOT EXISTS (
                                SELECT 1 FROM live WHERE live.id = r.id
                                    AND live.claimed_at > coalesce(r.sending_started_at, '-infinity')
                            )
                        ORDER BY r.due_at, r.id LIMIT %(limit)s
                    ), last AS (
                        SELECT due_at, id FROM batch ORDER BY due_at DESC, id DESC LIMIT 1
                    ), ordered AS (
                        SELECT array_agg(id) AS ids FROM batch
                    ), recorded AS (
                        INSERT INTO {claim} (claimed_at, reminder_ids, last_due_at, last_reminder_id)
                        SELECT %(now)s, to_jsonb(ordered.ids), last.due_at, last.id FROM ordered, last
                    )
                    SELECT ordered.ids, last.due_at, last.id FROM ordered, last""",  # noqa: S608 - table names from the models
                {
                    "since": since, "now": now, "after_due": after.due_at, "after_id": after.reminder_id,
                    "pending": Reminder.Status.PENDING, "limit": limit,
                },
            )  # fmt: skip
            row = cursor.fetchone()  # none for an empty batch (``last`` has no row)
            if row is None:
                return [], None
            batch, last_due_at, last_id = row
            return batch, ClaimCursor(due_at=last_due_at, reminder_id=last_id)
    # The simple path (SQLite): the live claims' ids in memory, the due rows streamed in order.
    claimed = _live_claims(since=since)
    due = (
        Reminder.objects.filter(status=Reminder.Status.PENDING, due_at__lte=now)
        .filter(Q(due_at__gt=after.due_at) | Q(due_at=after.due_at, pk__gt=after.reminder_id))
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=since))
        .order_by("due_at", "pk")
        .values_list("pk", "due_at", "sending_started_at")
    )
    ids: list[int] = []
    last_due_at = after.due_at
    for reminder_id, due_at, started in due.iterator(chunk_size=limit):
        held_since = claimed.get(reminder_id)
        if held_since is None or (started is not None and started >= held_since):
            ids.append(reminder_id)
            last_due_at = due_at
            if len(ids) == limit:
                break
    if not ids:
        return [], None
    ReminderClaim.objects.create(
        claimed_at=now, reminder_ids=ids, last_due_at=last_due_at, last_reminder_id=ids[-1]
    )
    return ids, ClaimCursor(due_at=last_due_at, reminder_id=ids[-1])


def _live_claims(*, since: datetime.datetime) -> dict[int, datetime.datetime]:
    """Reminder id -> when the newest claim younger than ``since`` handed it out."""
    held: dict[int, datetime.datetime] = {}
    for claimed_at, reminder_ids in ReminderClaim.objects.filter(claimed_at__gt=since).values_list(
        "claimed_at", "reminder_ids"
    ):
        for reminder_id in reminder_ids:
            held[reminder_id] = max(claimed_at, held.get(reminder_id, claimed_at))
    return held


def _drop_lapsed_claims(*, now: datetime.datetime) -> int:
    """Delete the claims older than the lease; return how many of their reminders are still pending."""
    lapsed = list(
        ReminderClaim.objects.filter(claimed_at__lte=now - LEASE).values_list(
            "pk", "claimed_at", "reminder_ids"
        )
    )
    if not lapsed:
        return 0
    not_taken = 0
    for _, claimed_at, reminder_ids in lapsed:
        not_taken += (
            Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.PENDING)
            .filter(Q(sending_started_at__isnull=True) | Q(sending_started_at__lt=claimed_at))
            .count()
        )
    ReminderClaim.objects.filter(pk__in=[pk for pk, _, _ in lapsed]).delete()
    return not_taken


def reminders_handed_out(*, reminder_ids: list[int], now: datetime.datetime) -> set[int]:
    """Which of these reminders are handed out to a worker and not yet taken (what "queued" used to be)."""
    since = now - LEASE
    held = _live_claims(since=since)
    pending = Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.PENDING).values_list(
        "pk", "sending_started_at", "claimed_at"
    )
    return {
        pk
        for pk, started, hold in pending
        if (pk in held and (started is None or started < held[pk])) or (hold is not None and hold > since)
    }


def _is_handed_out(*, reminder_id: int, now: datetime.datetime) -> bool:
    """Whether a claim (or a retry's hold) handed this reminder to a worker since a worker last took it.

    Lapsed claims count too until the next tick drops them, in the transaction that hands the reminders out
    again: a task delayed past the lease (a backlog, workers down) still finds its reminder handed out.
    """
    row = Reminder.objects.filter(pk=reminder_id).values_list("sending_started_at", "claimed_at").first()
    if row is None:
        return False
    started, hold = row
    if hold is not None:
        return True
    claims = ReminderClaim.objects.all()
    if started is not None:
        claims = claims.filter(claimed_at__gte=started)
    if connection.vendor == "postgresql":
        return claims.filter(reminder_ids__contains=[reminder_id]).exists()
    return any(reminder_id in ids for ids in claims.values_list("reminder_ids", flat=True))


def _resolve_stuck_sending(*, now: datetime.datetime) -> int:
    # None of our providers deduplicates requests (46elks has no idempotency key, Twilio documents none
    # for messages), so a reminder whose worker stopped during the call is never asked for again.
    return Reminder.objects.filter(
        status=Reminder.Status.SENDING, sending_started_at__lt=now - STUCK_AFTER
    ).update(
        status=Reminder.Status.FAILED,
        outcome="outcome unknown (worker stopped during the provider call); not resent to avoid a duplicate",
    )


# --- sending ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    # Recipient and text stay out of repr(), as in OutgoingMessage: they would show up in tracebacks.
    reminder: Reminder
    channel: str
    to: str = field(repr=False)
    subject: str = field(repr=False)
    body: str = field(repr=False)


def channels_for(participant: Participant) -> list[str]:
    """Channels the participant can be reached on, preferred first."""
    from participants.services.contacts import contact_decrypt

    details = contact_decrypt(participant)
    available = []
    if details.phone:
        available.append("sms")
    if details.email:
        available.append("email")
    preferred = (
        ContactProfile.objects.filter(participant=participant)
        .values_list("preferred_channel", flat=True)
        .first()
    )
    preferred = (
        "sms" if preferred == "whatsapp" else preferred
    )  # no WhatsApp provider yet: SMS reaches the same phone
    return sorted(available, key=lambda channel: channel != preferred)


def _postpone(reminder: Reminder, until: datetime.datetime, reason: str) -> None:
    Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENDING).update(
        status=Reminder.Status.PENDING, due_at=until, outcome=reason
    )


def reminder_begin(*, reminder_id: int, now: datetime.datetime) -> Prepared | None:
    """Take a due reminder for sending, or settle it without sending. None: nothing to send now."""
    with transaction.atomic():
        # Lock the participant first (the order page submissions use too): concurrent workers then count
        # each other's messages against the weekly limit instead of both sending.
        participant_id = (
            Reminder.objects.filter(pk=reminder_id).values_list("schedule__participant_id", flat=True).first()
        )
        if participant_id is None:
            return None
        Participant.objects.select_for_update().filter(pk=participant_id).exists()
        if not _is_handed_out(reminder_id=reminder_id, now=now):
            return None  # a task the dispatch did not ask for (or no longer does): leave it to the dispatch
        taken = Reminder.objects.filter(
            pk=reminder_id, status=Reminder.Status.PENDING, due_at__lte=now
        ).update(
            status=Reminder.Status.SENDING,
            sending_started_at=now,
            attempts=F("attempts") + 1,
            claimed_at=None,
        )
        if not taken:
            return None  # already handled, cancelled or postponed meanwhile, or a duplicate task
        reminder = Reminder.objects.select_related(
            "schedule__participant__site", "schedule__participant__study", "schedule__wave"
        ).get(pk=reminder_id)
        schedule, participant = reminder.schedule, reminder.schedule.participant
        stop = None
        if not participant.may_be_contacted:
            stop = "participant asked not to be contacted"
        elif schedule.status in ParticipantWave.FINAL:
            stop = f"schedule {schedule.status}"
        elif now >= schedule.closes_at:
            stop = "window closed before it could be sent"
        if stop:
            Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.CANCELLED, outcome=stop)
            return None
        if not study_has_key(participant.study_id):
            _postpone(
                reminder,
                now + NO_KEY_RETRY,
                "postponed: the study has no public key, the wave cannot be answered",
            )
            return None
        policy = policy_for(schedule)
        zone = local_zone(participant, now)
        allowed_at = outside_quiet_hours(
            now, zone=zone, start=policy.quiet_hours_start, end=policy.quiet_hours_end
        )
        if allowed_at > now:
            _postpone(reminder, allowed_at, "postponed: quiet hours")
            return None
        week_ago = now - datetime.timedelta(days=7)
        # Messages sent this week, and those at a gateway right now (their outcome is not known yet).
        recent: list[datetime.datetime] = []
        for sent, started in (
            Reminder.objects.filter(schedule__participant=participant)
            .filter(Q(sent_at__gt=week_ago) | Q(status=Reminder.Status.SENDING))
            .exclude(pk=reminder.pk)
            .values_list("sent_at", "sending_started_at")
        ):
            if (at := sent or started) is not None:
                recent.append(at)
        recent.sort()
        if len(recent) >= policy.max_per_week:
            _postpone(
                reminder, recent[-policy.max_per_week] + datetime.timedelta(days=7), "postponed: weekly limit"
            )
            return None
        channels = [
            channel for channel in channels_for(participant) if channel not in reminder.channels_tried
        ]
        if not channels:
            Reminder.objects.filter(pk=reminder.pk).update(
                status=Reminder.Status.FAILED, outcome="no reachable channel left"
            )
            return None
        channel = reminder.channel if reminder.channel in channels else channels[0]
        Reminder.objects.filter(pk=reminder.pk).update(channel=channel)
        reminder.channel = channel
    subject, body = reminder_messages.render(reminder=reminder, policy=policy, channel=channel)
    return Prepared(
        reminder=reminder, channel=channel, to=_address(participant, channel), subject=subject, body=body
    )


def _address(participant: Participant, channel: str) -> str:
    from participants.services.contacts import contact_decrypt

    details = contact_decrypt(participant)
    return details.phone if channel == "sms" else details.email


def reminder_sent(*, reminder_id: int, provider: str, reference: str, now: datetime.datetime) -> bool:
    return bool(
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SENDING).update(
            status=Reminder.Status.SENT,
            provider=provider,
            provider_reference=reference[:128],
            sent_at=now,
            outcome="",
        )
    )


def reminder_retry_later(*, reminder_id: int, reason: str, retry_at: datetime.datetime) -> None:
    """A transient provider error: back to pending, for the task's own retry at ``retry_at``.

    ``claimed_at`` holds the row until the retry time plus the lease, so the dispatch does not hand out a
    second, fresh task while this one waits out its backoff (only if the retry is lost).
    """
    Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SENDING).update(
        status=Reminder.Status.PENDING, outcome=reason[:300], claimed_at=retry_at
    )


def reminder_channel_failed(*, reminder_id: int, reason: str, now: datetime.datetime) -> bool:
    """The channel cannot deliver: fall back to the participant's next channel, or fail. True: try again."""
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().get(pk=reminder_id)
        if reminder.status not in (Reminder.Status.SENDING, Reminder.Status.SENT):
            return False  # settled meanwhile (cancelled, delivered, failed): a late failure changes nothing
        tried = [*reminder.channels_tried, reminder.channel]
        remaining = [
            channel for channel in channels_for(reminder.schedule.participant) if channel not in tried
        ]
        if remaining:
            Reminder.objects.filter(pk=reminder.pk).update(
                status=Reminder.Status.PENDING, channels_tried=tried, channel=remaining[0], due_at=now,
                outcome=f"{reminder.channel} failed ({reason[:200]}); falling back to {remaining[0]}",
            )  # fmt: skip
            return True
        Reminder.objects.filter(pk=reminder.pk).update(
            status=Reminder.Status.FAILED,
            channels_tried=tried,
            outcome=f"{reminder.channel} failed: {reason[:250]}",
        )
        return False


def delivery_report(*, reminder_id: int, reference: str, status: str, now: datetime.datetime) -> None:
    """An SMS provider's delivery report (webhook). Delivery failures fall back to the next channel."""
    reminder = Reminder.objects.filter(pk=reminder_id).first()
    if reminder is None:
        return
    if reference and reminder.provider_reference and reference != reminder.provider_reference:
        return  # about another message than the one recorded for this reminder: not evidence about it
    if status == "delivered":
        # Also settles a reminder whose worker stopped before recording the send: the report proves it.
        Reminder.objects.filter(pk=reminder_id).filter(
            Q(status__in=[Reminder.Status.SENT, Reminder.Status.SENDING])
            | Q(status=Reminder.Status.FAILED, provider_reference="")
        ).update(
            status=Reminder.Status.DELIVERED,
            delivered_at=now,
            provider_reference=reference[:128] or F("provider_reference"),
        )
    elif status == "failed" and reminder.channel == "sms":
        # One about an SMS already replaced by a fallback changes nothing; nor does a repeated report
        # (reminder_channel_failed leaves a settled reminder as it is, deciding under the row lock).
        reminder_channel_failed(reminder_id=reminder_id, reason="delivery failed", now=now)


def callback_url(provider_name: str, reminder_id: int) -> str:
    """Where the provider posts the delivery report of this reminder (the client adds its own secret)."""
    if provider_name not in ("elks46", "twilio"):
        return ""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/api/v1/webhooks/{provider_name}/{reminder_id}/"


def reminder_outcome_unknown(*, reminder_id: int, reason: str) -> None:
    """The call may have reached a provider that cannot dedupe: never send again (at most once)."""
    Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SENDING).update(
        status=Reminder.Status.FAILED, outcome=f"outcome unknown, not resent: {reason[:200]}"
    )
