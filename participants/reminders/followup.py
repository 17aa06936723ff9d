"""Follow-up for field staff and retention tables for researchers: reads, aggregated in the database."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from participants.models import Participant, ParticipantWave, PhoneNumber, Reminder, Residence


@dataclass(frozen=True)
class FollowUpRow:
    pseudonym: str
    cohort: str
    wave: str
    status: str
    opens_at: datetime.datetime
    closes_at: datetime.datetime
    state: str  # due, overdue, unreachable
    failed_reminders: int


def follow_up(
    *, participants: QuerySet[Participant], now: datetime.datetime, overdue_after_days: int = 7
) -> list[FollowUpRow]:
    """Open waves not completed: due, overdue (open longer than ``overdue_after_days``) or unreachable."""
    has_phone = Exists(
        PhoneNumber.objects.filter(
            participant=OuterRef("participant"), retired_at=None, confirmed_at__isnull=False
        )
    )
    rows = (
        ParticipantWave.objects.filter(
            participant__in=participants,
            status__in=[ParticipantWave.Status.OPEN, ParticipantWave.Status.SCHEDULED],
        )
        .filter(opens_at__lte=now, closes_at__gt=now)
        .annotate(
            failed=Count("reminders", filter=Q(reminders__status=Reminder.Status.FAILED)), reachable=has_phone
        )
        .select_related("participant__cohort", "participant__contact", "wave")
        .order_by("closes_at")
    )
    result = []
    for row in rows:
        has_email = bool(getattr(getattr(row.participant, "contact", None), "email_encrypted", ""))
        if row.failed or not (row.reachable or has_email):
            state = "unreachable"
        elif now - row.opens_at > datetime.timedelta(days=overdue_after_days):
            state = "overdue"
        else:
            state = "due"
        result.append(
            FollowUpRow(
                pseudonym=row.participant.pseudonym,
                cohort=row.participant.cohort.code if row.participant.cohort else "",
                wave=row.wave.key,
                status=row.status,
                opens_at=row.opens_at,
                closes_at=row.closes_at,
                state=state,
                failed_reminders=row.failed,
            )  # fmt: skip
        )
    return result


@dataclass(frozen=True)
class RetentionRow:
    wave: str
    group: str
    scheduled: int
    invited: int  # window opened (open, completed, missed, or withdrawn after opening)
    completed: int
    missed: int
    withdrawn: int

    @property
    def response_rate(self) -> float | None:
        return round(self.completed / self.invited, 4) if self.invited else None


GROUPINGS = {
    "cohort": "participant__cohort__code",
    "site": "participant__site__code",
    "wave": None,
    "municipality": None,
}


def retention(*, participants: QuerySet[Participant], by: str, now: datetime.datetime) -> list[RetentionRow]:
    """Per wave (and cohort, site or municipality at the wave's opening): invited, completed, missed, withdrawn."""
    schedules = ParticipantWave.objects.filter(participant__in=participants)
    if by == "municipality":
        # The municipality where the participant lived when the wave opened.
        latest = Residence.objects.filter(
            participant=OuterRef("participant"), moved_in_on__lte=OuterRef("opens_at__date")
        ).order_by("-moved_in_on")
        from django.db.models import Subquery

        schedules = schedules.annotate(group=Subquery(latest.values("municipality__code")[:1]))
        group_field = "group"
    elif by in ("cohort", "site"):
        group_field = GROUPINGS[by] or ""
    else:
        group_field = ""
    status = ParticipantWave.Status
    values = ["wave__key", "wave__position", *([group_field] if group_field else [])]
    aggregated = (
        schedules.values(*values)
        .annotate(
            scheduled=Count("pk"),
            # Withdrawn rows count as invited only if the window had opened before they were withdrawn
            # (a withdrawn row is final: its updated_at is the moment of withdrawal).
            invited=Count(
                "pk",
                filter=Q(opens_at__lte=now)
                & ~Q(status=status.EXCUSED)
                & ~Q(status=status.WITHDRAWN, updated_at__lt=F("opens_at")),
            ),
            completed=Count("pk", filter=Q(status=status.COMPLETED)),
            missed=Count(
                "pk",
                filter=Q(status=status.MISSED)
                | Q(status__in=[status.OPEN, status.SCHEDULED], closes_at__lte=now),
            ),
            withdrawn=Count("pk", filter=Q(status=status.WITHDRAWN)),
        )
        .order_by("wave__position", *([group_field] if group_field else []))
    )
    return [
        RetentionRow(
            wave=item["wave__key"],
            group=(item.get(group_field) or "(none)") if group_field else "all",
            scheduled=item["scheduled"],
            invited=item["invited"],
            completed=item["completed"],
            missed=item["missed"],
            withdrawn=item["withdrawn"],
        )  # fmt: skip
        for item in aggregated
    ]
