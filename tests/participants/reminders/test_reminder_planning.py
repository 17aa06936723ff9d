"""Planning reminders from a schedule: which slots exist, when they are due, and what replanning changes.

Default policy: an invitation when the window opens, reminders 3, 7 and 14 days after, a last chance 2 days
before it closes; a slot outside the window is not planned. Amira's pre-departure window (``wave``) is
[2027-01-09T21:00Z, 2027-03-10T21:00Z): midnight in Nairobi on 10 January and 11 March.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from participants.models import ConsentText, Participant, Reminder, ReminderPolicy, Site
from participants.reminders.schedules import schedules_sync
from participants.reminders.services import policy_for, reminders_plan
from participants.services import register
from participants.tasks import schedules_advance
from surveys.models import Study, Wave
from tests.participants.reminders.conftest import (
    Clock,
    arrive,
    claim,
    complete_wave,
    make_wave,
    person,
    plan_of,
    policy_create,
    reminder_of,
    schedule_of,
    send_due,
    utc,
)
from translations.content import text_of

OPENS, CLOSES = utc(2027, 1, 9, 21), utc(2027, 3, 10, 21)


def test_the_default_policy_plans_an_invitation_three_reminders_and_a_last_chance(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    assert plan_of(amira_p, wave) == [
        ("invitation", 0, OPENS, "pending"),
        ("reminder", 1, OPENS + datetime.timedelta(days=3), "pending"),
        ("reminder", 2, OPENS + datetime.timedelta(days=7), "pending"),
        ("reminder", 3, OPENS + datetime.timedelta(days=14), "pending"),
        ("last_chance", 0, CLOSES - datetime.timedelta(days=2), "pending"),
    ]
    assert list(
        Reminder.objects.filter(schedule__participant=amira_p)
        .values_list("channel", "attempts")
        .order_by()
        .distinct()
    ) == [("", 0)]


def test_slots_after_a_short_window_closes_are_not_planned(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    # given a 10-day wave: the 14-day reminder would come after it closed
    short = make_wave(study, "short", anchor="enrollment", window_days=10)
    # then
    assert plan_of(amira_p, short) == [
        ("invitation", 0, OPENS, "pending"),
        ("reminder", 1, utc(2027, 1, 12, 21), "pending"),
        ("reminder", 2, utc(2027, 1, 16, 21), "pending"),
        ("last_chance", 0, utc(2027, 1, 17, 21), "pending"),
    ]


def test_a_reminder_due_exactly_when_the_window_closes_is_not_planned(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    # given a 3-day wave: its 3-day reminder would be due at the closing instant
    three_days = make_wave(study, "three-days", anchor="enrollment", window_days=3)
    # (its last chance, at 10 January 21:00, had passed when the window was planned at T0: not planned either)
    assert plan_of(amira_p, three_days) == [("invitation", 0, OPENS, "pending")]


def test_a_last_chance_that_would_come_before_the_opening_is_not_planned(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    short = make_wave(study, "short", anchor="enrollment", window_days=10)
    policy_create(short, last_chance_days=12, reminder_days=[3])
    reminders_plan(schedule=schedule_of(amira_p, short))
    assert [(kind, sequence, status) for kind, sequence, _due, status in plan_of(amira_p, short)] == [
        ("invitation", 0, "pending"),
        ("reminder", 1, "pending"),
        ("reminder", 2, "cancelled"),
        ("last_chance", 0, "cancelled"),
    ]


def test_an_earlier_departure_cancels_the_slots_that_no_longer_fit_and_moves_the_last_chance(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    # given someone leaving on 1 February (window closes then) ...
    leaving = person(
        site_a,
        fatima_user,
        consent_text,
        phone="+46703333333",
        planned_departure_on=datetime.date(2027, 2, 1),
    )
    assert plan_of(leaving, wave)[-1] == ("last_chance", 0, utc(2027, 1, 29, 21), "pending")
    # when the departure is brought forward to 20 January
    register.participant_update(
        participant=leaving, by=fatima_user, planned_departure_on=datetime.date(2027, 1, 20)
    )
    # then the 14-day reminder is cancelled and the last chance moves to two days before the new close
    assert plan_of(leaving, wave) == [
        ("invitation", 0, OPENS, "pending"),
        ("reminder", 1, utc(2027, 1, 12, 21), "pending"),
        ("reminder", 2, utc(2027, 1, 16, 21), "pending"),
        ("last_chance", 0, utc(2027, 1, 17, 21), "pending"),
        ("reminder", 3, utc(2027, 1, 23, 21), "cancelled"),
    ]
    assert reminder_of(leaving, wave, "reminder", 3).outcome == "no longer planned"


def test_replanning_is_idempotent(clock: Clock, wave: Wave, amira_p: Participant) -> None:
    # given
    before = list(
        Reminder.objects.filter(schedule__participant=amira_p).values_list(
            "pk", "kind", "sequence", "due_at", "status"
        )
    )
    # when planning again, several times and through a sync
    for _ in range(3):
        reminders_plan(schedule=schedule_of(amira_p, wave))
    schedules_sync(participant=amira_p)
    # then nothing changed, nothing was added
    after = list(
        Reminder.objects.filter(schedule__participant=amira_p).values_list(
            "pk", "kind", "sequence", "due_at", "status"
        )
    )
    assert after == before
    assert len(after) == 5


def test_a_slot_exists_once_per_schedule(clock: Clock, wave: Wave, amira_p: Participant) -> None:
    with pytest.raises(IntegrityError, match="one_reminder_per_slot"), transaction.atomic():
        Reminder.objects.create(
            schedule=schedule_of(amira_p, wave), kind="reminder", sequence=1, due_at=OPENS
        )


def test_replanning_never_moves_a_reminder_that_was_already_sent(
    clock: Clock, wave: Wave, amira_p: Participant, fatima_user: User
) -> None:
    # given the invitation went out
    assert send_due(clock.now) == [("invitation", 0)]
    sent = reminder_of(amira_p, wave, "invitation")
    # when the departure moves (the window is recomputed and replanned)
    register.participant_update(
        participant=amira_p, by=fatima_user, planned_departure_on=datetime.date(2027, 2, 1)
    )
    # then the sent invitation is as it was
    again = reminder_of(amira_p, wave, "invitation")
    assert (again.status, again.due_at, again.sent_at, again.provider_reference) == (
        "sent", sent.due_at, clock.now, f"ref-{sent.pk}",
    )  # fmt: skip


def test_a_handed_out_reminder_is_not_moved_by_replanning(
    clock: Clock, wave: Wave, amira_p: Participant, fatima_user: User
) -> None:
    queued = reminder_of(amira_p, wave, "invitation")
    assert claim(clock.now) == [queued.pk]
    register.participant_update(
        participant=amira_p, by=fatima_user, planned_departure_on=datetime.date(2027, 2, 1)
    )
    queued.refresh_from_db()
    assert (queued.status, queued.due_at) == ("pending", OPENS)


# --- a wave's own policy ------------------------------------------------------------------------------------


def test_a_waves_own_policy_with_custom_texts_is_stored_per_language(clock: Clock, wave: Wave) -> None:
    policy_create(
        wave, reminder_days=[2, 9], max_per_week=2,
        texts={"invitation_text": {"en": "Hello! {link}", "ar": "مرحبا! {link}"}},
    )  # fmt: skip
    stored = ReminderPolicy.objects.get(wave=wave)
    assert (stored.reminder_days, stored.max_per_week, stored.last_chance_days, stored.send_invitation) == (
        [2, 9], 2, 2, True,
    )  # fmt: skip
    assert [text_of(stored, "invitation_text", code) for code in ("en", "sv", "ar")] == [
        "Hello! {link}", "", "مرحبا! {link}",
    ]  # fmt: skip
    assert str(stored) == "reminders of panel/pre-departure"


def test_without_a_policy_of_its_own_a_wave_uses_the_defaults(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    policy = policy_for(schedule_of(amira_p, wave))
    assert (policy.pk, policy.send_invitation, policy.reminder_days, policy.last_chance_days) == (
        None,
        True,
        [3, 7, 14],
        2,
    )
    assert (policy.quiet_hours_start, policy.quiet_hours_end, policy.max_per_week) == (
        datetime.time(21, 0), datetime.time(8, 0), 3,
    )  # fmt: skip


def test_a_policy_set_before_enrollment_shapes_the_plan(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    policy_create(wave, send_invitation=False, reminder_days=[5, 1, 5, 0, -2], last_chance_days=None)
    newcomer = person(site_a, fatima_user, consent_text, phone="+46703333333")
    # duplicates, zero and negative days are ignored; reminders are numbered in time order; the day-1
    # reminder had passed when the window was planned at T0, so only the day-5 one is planned
    assert plan_of(newcomer, wave) == [("reminder", 2, OPENS + datetime.timedelta(days=5), "pending")]


def test_replanning_after_the_policy_changed_moves_and_cancels_pending_slots(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given amira's default plan, then the wave gets its own policy
    policy_create(wave, send_invitation=False, reminder_days=[1, 5], last_chance_days=None)
    # when her schedule is replanned
    reminders_plan(schedule=schedule_of(amira_p, wave))
    # then
    assert plan_of(amira_p, wave) == [
        ("invitation", 0, OPENS, "cancelled"),
        ("reminder", 1, OPENS + datetime.timedelta(days=1), "pending"),
        ("reminder", 2, OPENS + datetime.timedelta(days=5), "pending"),
        ("reminder", 3, OPENS + datetime.timedelta(days=14), "cancelled"),
        ("last_chance", 0, CLOSES - datetime.timedelta(days=2), "cancelled"),
    ]


def test_a_policy_belongs_to_one_wave(clock: Clock, study: Study, wave: Wave, amira_p: Participant) -> None:
    other = make_wave(study, "other", anchor="enrollment", window_days=60)
    policy_create(other, reminder_days=[], last_chance_days=None)
    reminders_plan(schedule=schedule_of(amira_p, other))
    reminders_plan(schedule=schedule_of(amira_p, wave))
    assert [row[:2] for row in plan_of(amira_p, other) if row[3] == "pending"] == [("invitation", 0)]
    assert len([row for row in plan_of(amira_p, wave) if row[3] == "pending"]) == 5


# --- completion cancels -------------------------------------------------------------------------------------


def test_completing_the_wave_cancels_its_pending_and_queued_reminders(
    clock: Clock, wave: Wave, study_key: object, amira_p: Participant
) -> None:
    # given the invitation has been claimed by a tick (queued), the rest pending
    assert claim(clock.now) == [reminder_of(amira_p, wave, "invitation").pk]
    # when amira answers both pages and completes
    result = complete_wave(amira_p, wave)
    # then
    assert result["status"] == "completed"
    assert schedule_of(amira_p, wave).status == "completed"
    assert list(
        Reminder.objects.filter(schedule__participant=amira_p)
        .values_list("status", "outcome")
        .order_by()
        .distinct()
    ) == [("cancelled", "completed")]
    assert Reminder.objects.filter(schedule__participant=amira_p).count() == 5


def test_completion_leaves_sent_reminders_sent(
    clock: Clock, wave: Wave, study_key: object, amira_p: Participant
) -> None:
    send_due(clock.now)
    complete_wave(amira_p, wave)
    assert [(kind, status) for kind, _sequence, _due, status in plan_of(amira_p, wave)] == [
        ("invitation", "sent"),
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
        ("reminder", "cancelled"),
        ("last_chance", "cancelled"),
    ]


def test_completion_cancels_only_that_waves_reminders(
    clock: Clock, study: Study, wave: Wave, study_key: object, amira_p: Participant
) -> None:
    other = make_wave(study, "other", anchor="enrollment", window_days=60)
    complete_wave(amira_p, wave)
    assert {status for *_rest, status in plan_of(amira_p, other)} == {"pending"}


def test_a_completed_schedule_is_not_replanned(
    clock: Clock, wave: Wave, study_key: object, amira_p: Participant, fatima_user: User
) -> None:
    complete_wave(amira_p, wave)
    before = plan_of(amira_p, wave)
    register.participant_update(
        participant=amira_p, by=fatima_user, planned_departure_on=datetime.date(2027, 2, 1)
    )
    reminders_plan(schedule=schedule_of(amira_p, wave))
    assert plan_of(amira_p, wave) == before
    assert schedule_of(amira_p, wave).closes_at == CLOSES


# --- a corrected date that reopens a closed window -----------------------------------------------------------


def test_messages_cancelled_when_the_window_closed_come_back_when_a_corrected_date_reopens_it(
    clock: Clock, arrival_wave: Wave, amira_p: Participant, fatima_user: User
) -> None:
    # given an arrival on 20 January entered on the day, and nothing sent before the window closed (19 February)
    clock.move_to(utc(2027, 1, 20, 9))
    arrive(amira_p, datetime.date(2027, 1, 20), by=fatima_user)
    clock.move_to(utc(2027, 2, 20, 9))
    schedules_advance()
    assert {status for *_, status in plan_of(amira_p, arrival_wave)} == {"cancelled"}
    # when on 20 February the date is corrected to 18 February: the window is [18 Feb, 20 Mar) in Stockholm
    arrive(amira_p, datetime.date(2027, 2, 18), by=fatima_user)
    # then the messages are planned again from the new opening, the invitation due at once
    assert schedule_of(amira_p, arrival_wave).status == "open"
    assert plan_of(amira_p, arrival_wave) == [
        ("invitation", 0, utc(2027, 2, 17, 23), "pending"),
        ("reminder", 1, utc(2027, 2, 20, 23), "pending"),
        ("reminder", 2, utc(2027, 2, 24, 23), "pending"),
        ("reminder", 3, utc(2027, 3, 3, 23), "pending"),
        ("last_chance", 0, utc(2027, 3, 17, 23), "pending"),
    ]
    assert send_due(clock.now) == [("invitation", 0)]


def test_a_date_entered_after_the_window_closed_plans_nothing_to_send_until_it_is_corrected(
    clock: Clock, arrival_wave: Wave, amira_p: Participant, fatima_user: User
) -> None:
    # given on 1 March an arrival on 20 January is entered by mistake: that window closed on 19 February
    clock.move_to(utc(2027, 3, 1, 9))
    arrive(amira_p, datetime.date(2027, 1, 20), by=fatima_user)
    assert schedule_of(amira_p, arrival_wave).status == "missed"
    assert send_due(clock.now) == []
    assert [status for *_, status in plan_of(amira_p, arrival_wave) if status != "cancelled"] == []
    # when it is corrected to 26 February
    arrive(amira_p, datetime.date(2027, 2, 26), by=fatima_user)
    # then she is invited now; the reminder due on 1 March at midnight is not sent late
    assert send_due(clock.now) == [("invitation", 0)]
    assert [(kind, sequence, status) for kind, sequence, _, status in plan_of(amira_p, arrival_wave)] == [
        ("invitation", 0, "sent"),
        ("reminder", 2, "pending"),
        ("reminder", 3, "pending"),
        ("last_chance", 0, "pending"),
    ]
