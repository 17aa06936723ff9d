"""Planning, claiming and sending reminders; at most once per reminder, never after its window closed."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from participants.models import ContactProfile, Participant, ParticipantWave, Reminder, ReminderPolicy
from participants.reminders import messages as reminder_messages

SWEDEN = "Europe/Stockholm"
ACTIVE = (Reminder.Status.PENDING, Reminder.Status.QUEUED)
STUCK_AFTER = datetime.timedelta(minutes=15)


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
    """Create or move the schedule's future messages; sent ones stay as they were."""
    if schedule.status in ParticipantWave.FINAL:
        reminders_cancel(schedule=schedule, reason=f"schedule {schedule.status}")
        return
    policy = policy_for(schedule)
    now = now or timezone.now()
    wanted = {(kind, sequence): due for kind, sequence, due in _desired(schedule, policy)}
    existing = {
        (row.kind, row.sequence): row
        for row in Reminder.objects.select_for_update().filter(schedule=schedule)
    }
    for slot, due in wanted.items():
        row = existing.get(slot)
        if row is None:
            if due < now and slot[0] != Reminder.Kind.INVITATION:
                # A window materialised late (arrival entered afterwards): one invitation, not a burst of
                # overdue reminders.
                continue
            Reminder.objects.create(schedule=schedule, kind=slot[0], sequence=slot[1], due_at=due)
        elif row.status == Reminder.Status.PENDING and row.due_at != due:
            Reminder.objects.filter(pk=row.pk, status=Reminder.Status.PENDING).update(due_at=due)
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
class ClaimResult:
    claimed: list[int]
    requeued_stale: int
    gave_up_unknown: int


def reminders_claim_due(*, now: datetime.datetime, limit: int, recover: bool = True) -> ClaimResult:
    """Claim up to ``limit`` due reminders (skipping rows another tick holds) and mark them queued.

    With ``recover`` it also mends what an outage left behind: rows queued long ago whose task never ran go
    back to pending; rows stuck in sending (a worker died mid-call) are marked failed, never resent.
    """
    with transaction.atomic():
        stale_queued = gave_up = 0
        if recover:
            stale_queued = Reminder.objects.filter(
                status=Reminder.Status.QUEUED, claimed_at__lt=now - STUCK_AFTER
            ).update(status=Reminder.Status.PENDING)
            gave_up = _resolve_stuck_sending(now=now)
        ids = _claim(now=now, limit=limit)
    return ClaimResult(claimed=ids, requeued_stale=stale_queued, gave_up_unknown=gave_up)


def _claim(*, now: datetime.datetime, limit: int) -> list[int]:
    if connection.vendor == "postgresql":
        # One statement: pick the oldest due rows no other tick holds, and mark them, returning their ids.
        table = Reminder._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH due AS (
                        SELECT id FROM {table} WHERE status = %s AND due_at <= %s
                        ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED
                    )
                    UPDATE {table} AS reminder SET status = %s, claimed_at = %s
                    FROM due WHERE reminder.id = due.id RETURNING reminder.id""",  # noqa: S608 - table name from the model
                [Reminder.Status.PENDING, now, limit, Reminder.Status.QUEUED, now],
            )
            return [row[0] for row in cursor.fetchall()]
    due = Reminder.objects.filter(status=Reminder.Status.PENDING, due_at__lte=now).order_by("due_at")
    ids = list(due.values_list("pk", flat=True)[:limit])
    Reminder.objects.filter(pk__in=ids).update(status=Reminder.Status.QUEUED, claimed_at=now)
    return ids


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
    reminder: Reminder
    channel: str
    to: str
    subject: str
    body: str


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
    """Take a queued reminder for sending, or settle it without sending. None: nothing to send now."""
    with transaction.atomic():
        # Lock the participant first (the order page submissions use too): concurrent workers then count
        # each other's messages against the weekly limit instead of both sending.
        participant_id = (
            Reminder.objects.filter(pk=reminder_id).values_list("schedule__participant_id", flat=True).first()
        )
        if participant_id is None:
            return None
        Participant.objects.select_for_update().filter(pk=participant_id).exists()
        taken = Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.QUEUED).update(
            status=Reminder.Status.SENDING, sending_started_at=now, attempts=F("attempts") + 1
        )
        if not taken:
            return None  # already handled, cancelled meanwhile, or a duplicate task
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
    """A transient provider error: back to queued, for the task's own retry at ``retry_at``.

    ``claimed_at`` moves to the retry time, so the recovery of lost tasks (queued rows claimed more than
    STUCK_AFTER ago) does not start a second, fresh task while this one waits out its backoff.
    """
    Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SENDING).update(
        status=Reminder.Status.QUEUED, outcome=reason[:300], claimed_at=retry_at
    )


def reminder_channel_failed(*, reminder_id: int, reason: str, now: datetime.datetime) -> bool:
    """The channel cannot deliver: fall back to the participant's next channel, or fail. True: try again."""
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().get(pk=reminder_id)
        tried = [*reminder.channels_tried, reminder.channel]
        remaining = [
            channel for channel in channels_for(reminder.schedule.participant) if channel not in tried
        ]
        if remaining and reminder.status in (
            Reminder.Status.SENDING,
            Reminder.Status.SENT,
            Reminder.Status.QUEUED,
        ):
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
    elif (
        status == "failed"
        and reminder.channel == "sms"
        and reminder.status in (Reminder.Status.SENT, Reminder.Status.SENDING)
    ):
        # A repeated report, or one about an SMS already replaced by a fallback, changes nothing.
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
