"""Claiming and sending reminders: quiet hours, weekly limits, stop rules, recovery, fallback and rendering.

The services are called as the tick and the worker call them (claim -> begin -> provider -> sent), with the
clock stopped. Amira is at the Nairobi site (UTC+3) and reachable by SMS only; her pre-departure window
(``wave``) is [2027-01-09T21:00Z, 2027-03-10T21:00Z) and its invitation is due when it opens.
"""

from __future__ import annotations

import datetime
import re
import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from rest_framework.test import APIClient

from participants.crypto import sealing
from participants.models import (
    ConsentText,
    Participant,
    PhoneNumber,
    Reminder,
    ReminderClaim,
    Site,
    StudyKey,
)
from participants.reminders import services as reminders
from participants.reminders.messages import render
from participants.responses import services as response_services
from participants.services import contacts, register
from surveys.models import Wave
from tests.participants.reminders.conftest import (
    T0,
    Clock,
    arrive,
    claim,
    complete_wave,
    person,
    policy_create,
    reminder_of,
    schedule_of,
    send_due,
    utc,
)

OPENS, CLOSES = utc(2027, 1, 9, 21), utc(2027, 3, 10, 21)
RLM = "\u200f"
# A personal link: the one-time token, and the wave it opens (both in the fragment, never sent to a server).
LINK = re.compile(r"https://panel\.example\.org/p/#token=([A-Za-z0-9_-]+)&wave=([a-z0-9-]+)")


@pytest.fixture
def noor(clock: Clock, site_a: Site, fatima_user: User, consent_text: ConsentText) -> Participant:
    """Reachable by SMS (preferred) and by e-mail."""
    return person(site_a, fatima_user, consent_text, phone="+46704444444", email="noor@example.org")


@pytest.fixture
def app_url(settings: Any) -> str:
    settings.PARTICIPANT_APP_URL = "https://panel.example.org/p/"
    return settings.PARTICIPANT_APP_URL


def _row(reminder: Reminder) -> tuple[Any, ...]:
    reminder.refresh_from_db()
    return reminder.status, reminder.due_at, reminder.outcome


# --- quiet hours --------------------------------------------------------------------------------------------


def test_the_invitation_of_a_window_opening_at_midnight_waits_until_08_00_local_time(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given the tick runs at the opening instant, 00:00 in Nairobi
    clock.move_to(OPENS)
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(OPENS) == [invitation.pk]
    # when the worker takes it
    prepared = reminders.reminder_begin(reminder_id=invitation.pk, now=OPENS)
    # then it goes back to pending until 08:00 in Nairobi (05:00 UTC)
    assert prepared is None
    assert _row(invitation) == ("pending", utc(2027, 1, 10, 5), "postponed: quiet hours")
    assert invitation.sent_at is None
    assert send_due(utc(2027, 1, 10, 4, 59)) == []
    assert send_due(utc(2027, 1, 10, 5)) == [("invitation", 0)]


def test_a_reminder_due_at_22_00_in_nairobi_is_postponed_to_08_00_in_nairobi(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given the invitation went out at noon, and the first reminder is due at 22:00 Nairobi time (19:00Z)
    assert send_due(T0) == [("invitation", 0)]
    first = reminder_of(amira_p, wave, "reminder", 1)
    Reminder.objects.filter(pk=first.pk).update(due_at=utc(2027, 1, 12, 19))
    # when the tick and the worker run then
    assert send_due(utc(2027, 1, 12, 19)) == []
    # then it waits until 08:00 the next morning in Nairobi
    assert _row(first) == ("pending", utc(2027, 1, 13, 5), "postponed: quiet hours")
    assert first.attempts == 1
    assert send_due(utc(2027, 1, 13, 5)) == [("reminder", 1)]


def test_after_arrival_stockholm_quiet_hours_apply_not_the_sites(
    clock: Clock, arrival_wave: Wave, amira_p: Participant
) -> None:
    # given amira arrived in Sweden on 20 January, and her arrival invitation went out
    clock.move_to(utc(2027, 1, 21, 9))
    arrive(amira_p, datetime.date(2027, 1, 20))
    assert send_due(clock.now) == [("invitation", 0)]
    first = reminder_of(amira_p, arrival_wave, "reminder", 1)
    second = reminder_of(amira_p, arrival_wave, "reminder", 2)
    Reminder.objects.filter(pk=first.pk).update(due_at=utc(2027, 1, 25, 19, 30))
    Reminder.objects.filter(pk=second.pk).update(due_at=utc(2027, 1, 25, 20, 30))
    # when at 20:30 in Stockholm (22:30 in Nairobi, quiet there) the first is due
    assert send_due(utc(2027, 1, 25, 19, 30)) == [("reminder", 1)]
    # and at 21:30 in Stockholm the second is due: it waits until 08:00 in Stockholm (07:00Z)
    assert send_due(utc(2027, 1, 25, 20, 30)) == []
    assert _row(second) == ("pending", utc(2027, 1, 26, 7), "postponed: quiet hours")


def test_quiet_hours_end_at_08_00_local_time_on_the_dst_change_day(
    clock: Clock, arrival_wave: Wave, amira_p: Participant
) -> None:
    # given amira lives in Sweden; a reminder is due at 03:30 CEST on 28 March 2027 (01:30Z)
    clock.move_to(utc(2027, 3, 20, 9))
    arrive(amira_p, datetime.date(2027, 3, 20))
    send_due(clock.now)
    first = reminder_of(amira_p, arrival_wave, "reminder", 1)
    Reminder.objects.filter(pk=first.pk).update(due_at=utc(2027, 3, 28, 1, 30))
    # when
    assert send_due(utc(2027, 3, 28, 1, 30)) == []
    # then 08:00 CEST, which is 06:00Z
    assert _row(first) == ("pending", utc(2027, 3, 28, 6), "postponed: quiet hours")


def test_quiet_hours_follow_the_waves_own_policy(clock: Clock, wave: Wave, amira_p: Participant) -> None:
    # given the wave's own quiet hours are 11:00-13:00 (it is 12:00 in Nairobi)
    policy_create(wave, quiet_hours_start=datetime.time(11, 0), quiet_hours_end=datetime.time(13, 0))
    invitation = reminder_of(amira_p, wave, "invitation")
    assert send_due(T0) == []
    assert _row(invitation) == ("pending", utc(2027, 1, 11, 10), "postponed: quiet hours")


# --- weekly limit -------------------------------------------------------------------------------------------


@pytest.fixture
def two_a_week(clock: Clock, wave: Wave, amira_p: Participant) -> dict[str, Reminder]:
    """At most 2 messages a week; reminders 1 and 2 days after opening. The invitation is sent at T0 and
    the first reminder an hour later."""
    policy_create(wave, max_per_week=2, reminder_days=[1, 2], last_chance_days=None)
    reminders.reminders_plan(schedule=schedule_of(amira_p, wave))
    rows = {
        "invitation": reminder_of(amira_p, wave, "invitation"),
        "first": reminder_of(amira_p, wave, "reminder", 1),
        "second": reminder_of(amira_p, wave, "reminder", 2),
    }
    assert claim(T0) == [rows["invitation"].pk, rows["first"].pk]
    for reminder, at in ((rows["invitation"], T0), (rows["first"], T0 + datetime.timedelta(hours=1))):
        assert reminders.reminder_begin(reminder_id=reminder.pk, now=at) is not None
        assert reminders.reminder_sent(reminder_id=reminder.pk, provider="stub", reference="x", now=at)
    return rows


def test_a_third_message_within_seven_days_is_postponed_to_seven_days_after_the_first(
    two_a_week: dict[str, Reminder],
) -> None:
    second = two_a_week["second"]
    # when the second reminder comes due at 12:00 Nairobi time on 12 January
    Reminder.objects.filter(pk=second.pk).update(due_at=utc(2027, 1, 12, 9))
    assert send_due(utc(2027, 1, 12, 9)) == []
    # then it waits until a week after the first message
    assert _row(second) == ("pending", T0 + datetime.timedelta(days=7), "postponed: weekly limit")
    # and goes out once the first message is more than a week old
    assert send_due(T0 + datetime.timedelta(days=7, minutes=1)) == [("reminder", 2)]


def test_a_message_postponed_by_the_weekly_limit_goes_out_at_the_time_it_was_postponed_to(
    two_a_week: dict[str, Reminder],
) -> None:
    second = two_a_week["second"]
    Reminder.objects.filter(pk=second.pk).update(due_at=utc(2027, 1, 12, 9))
    send_due(utc(2027, 1, 12, 9))
    assert _row(second)[1] == T0 + datetime.timedelta(days=7)
    assert send_due(T0 + datetime.timedelta(days=7)) == [("reminder", 2)]


def test_the_weekly_limit_counts_messages_of_all_the_participants_waves(
    clock: Clock, wave: Wave, arrival_wave: Wave, amira_p: Participant
) -> None:
    # given the arrival wave allows 2 messages a week, and two pre-departure messages went out on 11 January
    policy_create(arrival_wave, max_per_week=2)
    first = reminder_of(amira_p, wave, "reminder", 1)
    Reminder.objects.filter(pk=first.pk).update(due_at=T0 + datetime.timedelta(hours=1))
    assert send_due(T0) == [("invitation", 0)]
    assert send_due(T0 + datetime.timedelta(hours=1)) == [("reminder", 1)]
    # when she arrives on 12 January and the arrival invitation comes due (09:00 in Stockholm)
    clock.move_to(utc(2027, 1, 12, 8))
    arrive(amira_p, datetime.date(2027, 1, 12))
    assert send_due(clock.now) == []
    # then it waits until a week after the first pre-departure message
    assert _row(reminder_of(amira_p, arrival_wave, "invitation")) == (
        "pending", T0 + datetime.timedelta(days=7), "postponed: weekly limit",
    )  # fmt: skip


# --- stop rules ---------------------------------------------------------------------------------------------


def test_completion_between_claim_and_send_stops_the_send(
    clock: Clock, wave: Wave, study_key: object, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    complete_wave(amira_p, wave)
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.outcome, invitation.attempts, invitation.sent_at) == (
        "cancelled", "completed", 0, None,
    )  # fmt: skip


def test_withdrawal_between_claim_and_send_stops_the_send(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    register.participant_withdraw(participant=amira_p, scope="stop_contact")
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.outcome, invitation.sent_at) == (
        "cancelled",
        "participant withdrew",
        None,
    )


def test_a_participant_who_stopped_contact_is_not_sent_a_reminder_still_queued(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given the row is queued and, by whatever path, contact stopped without cancelling it
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    Participant.objects.filter(pk=amira_p.pk).update(contact_stopped_at=T0)
    # then the worker settles it without sending
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.outcome) == ("cancelled", "participant asked not to be contacted")


def test_a_reminder_whose_window_closed_before_it_could_be_sent_is_cancelled_not_sent_late(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    # when the worker only gets to it at the closing instant
    clock.move_to(CLOSES)
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=CLOSES) is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.outcome, invitation.sent_at) == (
        "cancelled", "window closed before it could be sent", None,
    )  # fmt: skip


def test_an_invitation_waits_while_the_study_has_no_public_key_and_goes_out_once_one_is_registered(
    clock: Clock, wave: Wave, amira_p: Participant, research_key: StudyKey, sara_user: User
) -> None:
    # given the study's only key was retired: nobody could answer, a response could not be sealed
    response_services.study_key_retire(key=research_key, by=sara_user)
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    # when the worker takes the invitation, it is put back for an hour, not sent
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None
    retry_at = T0 + reminders.NO_KEY_RETRY
    assert _row(invitation) == (
        "pending", retry_at, "postponed: the study has no public key, the wave cannot be answered",
    )  # fmt: skip
    assert invitation.sent_at is None
    assert send_due(retry_at) == []
    # then once a new key is registered, the next try sends it
    response_services.study_key_register(
        study=wave.study, public_key_pem=sealing.public_key_to_pem(sealing.generate_keypair()[1]),
        suite=sealing.DEFAULT_SUITE, label="2027 key", by=sara_user,
    )  # fmt: skip
    later = retry_at + reminders.NO_KEY_RETRY
    clock.move_to(later)
    assert send_due(later) == [("invitation", 0)]


# --- conditional transitions ----------------------------------------------------------------------------------


def test_beginning_twice_sends_once(clock: Clock, wave: Wave, amira_p: Participant) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0)
    first = reminders.reminder_begin(reminder_id=invitation.pk, now=T0)
    second = reminders.reminder_begin(reminder_id=invitation.pk, now=T0)
    assert first is not None
    assert (first.channel, first.to) == ("sms", "+46701111111")
    assert second is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.attempts, invitation.channel) == ("sending", 1, "sms")


def test_recording_the_send_twice_keeps_the_first(clock: Clock, wave: Wave, amira_p: Participant) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0)
    reminders.reminder_begin(reminder_id=invitation.pk, now=T0)
    later = T0 + datetime.timedelta(minutes=5)
    assert (
        reminders.reminder_sent(reminder_id=invitation.pk, provider="elks46", reference="s1", now=T0) is True
    )
    assert (
        reminders.reminder_sent(reminder_id=invitation.pk, provider="elks46", reference="s2", now=later)
        is False
    )
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=later) is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.provider, invitation.provider_reference, invitation.sent_at) == (
        "sent", "elks46", "s1", T0,
    )  # fmt: skip


def test_a_reminder_not_due_yet_is_not_begun_by_an_early_or_stray_task(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    first_reminder = reminder_of(amira_p, wave, "reminder", 1)
    assert first_reminder.due_at > T0
    assert reminders.reminder_begin(reminder_id=first_reminder.pk, now=T0) is None
    first_reminder.refresh_from_db()
    assert (first_reminder.status, first_reminder.attempts) == ("pending", 0)


def test_claiming_takes_only_due_pending_rows_oldest_first_up_to_the_limit(
    clock: Clock, wave: Wave, amira_p: Participant, noor: Participant
) -> None:
    # both invitations are due (same instant); a later reminder is not
    amira_invitation, noor_invitation = (
        reminder_of(amira_p, wave, "invitation"),
        reminder_of(noor, wave, "invitation"),
    )
    Reminder.objects.filter(pk=noor_invitation.pk).update(due_at=OPENS - datetime.timedelta(minutes=1))
    result = reminders.reminders_claim_due(now=T0, limit=1)
    assert (result.claimed, result.requeued_stale, result.gave_up_unknown) == ([noor_invitation.pk], 0, 0)
    assert claim(T0) == [amira_invitation.pk]
    assert claim(T0) == []
    # the rows are not written; the claims record what was handed out, and when
    noor_invitation.refresh_from_db()
    assert (noor_invitation.status, noor_invitation.claimed_at) == ("pending", None)
    assert list(ReminderClaim.objects.order_by("pk").values_list("claimed_at", "reminder_ids")) == [
        (T0, [noor_invitation.pk]), (T0, [amira_invitation.pk]),
    ]  # fmt: skip


def _claimer(results: dict[str, list[int]], name: str, start: threading.Barrier, limit: int) -> None:
    try:
        start.wait(timeout=10)
        results[name] = reminders.reminders_claim_due(now=T0, limit=limit).claimed
    finally:
        connection.close()


def _many_due(schedule_id: int, count: int) -> set[int]:
    rows = Reminder.objects.bulk_create(
        Reminder(
            schedule_id=schedule_id,
            kind="reminder",
            sequence=100 + n,
            due_at=T0 - datetime.timedelta(minutes=n),
        )
        for n in range(1, count + 1)
    )
    return {row.pk for row in rows}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_ticks_claiming_at_once_take_disjoint_sets_that_together_cover_every_due_row(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given 41 due rows (the invitation and 40 more)
    due = _many_due(schedule_of(amira_p, wave).pk, 40) | {reminder_of(amira_p, wave, "invitation").pk}
    results: dict[str, list[int]] = {}
    start = threading.Barrier(2)
    # when two ticks, each in its own connection and transaction, claim up to 25 at the same moment
    threads = [threading.Thread(target=_claimer, args=(results, name, start, 25)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then nobody got a row twice, and every due row was claimed
    assert set(results) == {"a", "b"}
    assert set(results["a"]) & set(results["b"]) == set()
    assert set(results["a"]) | set(results["b"]) == due
    # each took at most its limit; how the 41 split between them depends on how the two scans interleave
    assert max(len(results["a"]), len(results["b"])) <= 25
    assert reminders.reminders_handed_out(reminder_ids=list(due), now=T0) == due


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_tick_waits_for_the_claim_another_tick_holds_then_takes_only_what_is_left(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    due = _many_due(schedule_of(amira_p, wave).pk, 40) | {reminder_of(amira_p, wave, "invitation").pk}
    results: dict[str, list[int]] = {}
    holding, finished = threading.Event(), threading.Event()

    def first_tick() -> None:
        try:
            with transaction.atomic():  # keeps its row locks until the second tick is done
                results["a"] = reminders.reminders_claim_due(now=T0, limit=25).claimed
                holding.set()
                finished.wait(timeout=10)
        finally:
            connection.close()

    def second_tick() -> None:
        try:
            holding.wait(timeout=10)
            results["b"] = reminders.reminders_claim_due(now=T0, limit=25).claimed
        finally:
            connection.close()

    threads = [threading.Thread(target=first_tick), threading.Thread(target=second_tick)]
    for thread in threads:
        thread.start()
    # the second tick waits while the first holds its uncommitted claim (it cannot see it yet) ...
    assert holding.wait(timeout=10)
    threads[1].join(timeout=1)
    assert threads[1].is_alive()
    assert "b" not in results
    # ... and once that is committed, takes the rest, none of the first's
    finished.set()
    for thread in threads:
        thread.join(timeout=30)
    assert (len(results["a"]), len(results["b"])) == (25, 16)
    assert set(results["a"]) | set(results["b"]) == due
    assert set(results["a"]) & set(results["b"]) == set()


# --- recovery after an outage -------------------------------------------------------------------------------


def test_a_claim_older_than_the_lease_is_dropped_and_its_untaken_reminders_counted(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0 - reminders.LEASE - datetime.timedelta(seconds=1)) == [invitation.pk]
    result = reminders.reminders_claim_due(now=T0, limit=0)
    invitation.refresh_from_db()
    assert (result.requeued_stale, result.claimed, invitation.status) == (1, [], "pending")
    assert ReminderClaim.objects.count() == 0


def test_a_lapsed_claim_is_handed_out_again_by_the_same_tick(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given the invitation was handed out two hours ago and its task never ran (lost with Redis)
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0 - datetime.timedelta(hours=2)) == [invitation.pk]
    result = reminders.reminders_claim_due(now=T0, limit=10)
    assert (result.requeued_stale, result.claimed) == (1, [invitation.pk])
    assert list(ReminderClaim.objects.values_list("claimed_at", "reminder_ids")) == [(T0, [invitation.pk])]
    # then the two tasks (the lost one, were it to come back, and the new one) send it once
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is not None
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None


def test_a_reminder_handed_out_within_the_lease_is_left_to_its_task(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0 - reminders.LEASE + datetime.timedelta(seconds=1)) == [invitation.pk]
    result = reminders.reminders_claim_due(now=T0, limit=10)
    assert (result.requeued_stale, result.claimed) == (0, [])
    assert reminders.reminders_handed_out(reminder_ids=[invitation.pk], now=T0) == {invitation.pk}


def test_a_handed_out_reminder_a_worker_postponed_is_handed_out_again_when_due_despite_the_live_claim(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given the invitation was handed out and its worker put it back (the gateway's channel failed: email next)
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is not None
    Reminder.objects.filter(pk=invitation.pk).update(
        status="pending", due_at=T0 + datetime.timedelta(minutes=1)
    )
    # when the next ticks run, before and after it is due again (the first claim is still live)
    assert claim(T0 + datetime.timedelta(seconds=30)) == []
    assert claim(T0 + datetime.timedelta(minutes=1)) == [invitation.pk]
    assert claim(T0 + datetime.timedelta(minutes=2)) == []


def test_a_row_stuck_in_sending_is_marked_failed_outcome_unknown_and_never_resent(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given a worker died during the provider call 16 minutes ago
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0 - datetime.timedelta(minutes=17))
    reminders.reminder_begin(reminder_id=invitation.pk, now=T0 - datetime.timedelta(minutes=16))
    # when the next ticks run
    result = reminders.reminders_claim_due(now=T0, limit=10)
    again = reminders.reminders_claim_due(now=T0 + datetime.timedelta(hours=1), limit=10)
    # then
    invitation.refresh_from_db()
    assert (result.gave_up_unknown, result.claimed, again.claimed) == (1, [], [])
    assert invitation.status == "failed"
    assert invitation.outcome == (
        "outcome unknown (worker stopped during the provider call); not resent to avoid a duplicate"
    )
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None
    assert invitation.sent_at is None


def test_a_row_sending_for_less_than_stuck_after_is_left_alone(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0 - datetime.timedelta(minutes=15))
    reminders.reminder_begin(reminder_id=invitation.pk, now=T0 - datetime.timedelta(minutes=14))
    result = reminders.reminders_claim_due(now=T0, limit=10)
    invitation.refresh_from_db()
    assert (result.gave_up_unknown, invitation.status) == (0, "sending")


# --- fallback channel ---------------------------------------------------------------------------------------


def test_a_permanent_sms_failure_falls_back_to_email_and_then_fails_when_no_channel_is_left(
    clock: Clock, wave: Wave, noor: Participant, app_url: str
) -> None:
    invitation = reminder_of(noor, wave, "invitation")
    claim(T0)
    sms = reminders.reminder_begin(reminder_id=invitation.pk, now=T0)
    assert sms is not None
    assert (sms.channel, sms.to) == ("sms", "+46704444444")
    # when the SMS provider refuses the number for good
    later = T0 + datetime.timedelta(minutes=1)
    assert reminders.reminder_channel_failed(
        reminder_id=invitation.pk, reason="number not in service", now=later
    )
    # then the reminder is pending again right away, on e-mail
    invitation.refresh_from_db()
    assert (invitation.status, invitation.channel, invitation.channels_tried, invitation.due_at) == (
        "pending", "email", ["sms"], later,
    )  # fmt: skip
    assert invitation.outcome == "sms failed (number not in service); falling back to email"
    # ... and the next tick sends it by e-mail
    assert claim(later) == [invitation.pk]
    email = reminders.reminder_begin(reminder_id=invitation.pk, now=later)
    assert email is not None
    assert (email.channel, email.to, email.subject) == ("email", "noor@example.org", "قبل سفرك")
    assert not email.body.startswith(RLM)
    # when e-mail fails too, nothing is left
    assert not reminders.reminder_channel_failed(
        reminder_id=invitation.pk, reason="mailbox unavailable", now=later
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.channels_tried, invitation.outcome) == (
        "failed", ["sms", "email"], "email failed: mailbox unavailable",
    )  # fmt: skip


def test_a_permanent_sms_failure_without_another_channel_fails(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0)
    reminders.reminder_begin(reminder_id=invitation.pk, now=T0)
    assert (
        reminders.reminder_channel_failed(reminder_id=invitation.pk, reason="number not in service", now=T0)
        is False
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.channels_tried, invitation.outcome) == (
        "failed", ["sms"], "sms failed: number not in service",
    )  # fmt: skip
    assert claim(T0 + datetime.timedelta(hours=1)) == []


@pytest.mark.parametrize("settled", ["cancelled", "delivered", "failed"])
def test_a_late_channel_failure_leaves_a_settled_reminder_as_it_is(
    clock: Clock, wave: Wave, noor: Participant, settled: str
) -> None:
    invitation = reminder_of(noor, wave, "invitation")
    claim(T0)
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is not None
    # given the reminder was settled meanwhile (the wave completed, a delivery report, a give-up)
    Reminder.objects.filter(pk=invitation.pk).update(status=settled, outcome="settled before the failure")
    # when the channel failure is reported afterwards
    retry = reminders.reminder_channel_failed(
        reminder_id=invitation.pk, reason="number not in service", now=T0
    )
    # then nothing is retried and the reminder keeps its state
    invitation.refresh_from_db()
    assert retry is False
    assert (invitation.status, invitation.channel, invitation.channels_tried, invitation.outcome) == (
        settled, "sms", [], "settled before the failure",
    )  # fmt: skip


def test_the_preferred_channel_is_tried_first(
    clock: Clock, wave: Wave, noor: Participant, fatima_user: User
) -> None:
    contacts.contact_set(participant=noor, preferred_channel="email", by=fatima_user)
    claim(T0)
    prepared = reminders.reminder_begin(reminder_id=reminder_of(noor, wave, "invitation").pk, now=T0)
    assert prepared is not None
    assert (prepared.channel, prepared.to) == ("email", "noor@example.org")


def test_whatsapp_as_preferred_channel_is_served_by_sms(
    clock: Clock, wave: Wave, noor: Participant, fatima_user: User
) -> None:
    contacts.contact_set(participant=noor, preferred_channel="whatsapp", whatsapp_opt_in=True, by=fatima_user)
    assert reminders.channels_for(noor) == ["sms", "email"]


def test_a_participant_without_a_confirmed_phone_or_email_is_marked_failed_without_sending(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    PhoneNumber.objects.filter(participant=amira_p).update(confirmed_at=None)
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0)
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is None
    invitation.refresh_from_db()
    assert (invitation.status, invitation.outcome) == ("failed", "no reachable channel left")


# --- rendering ----------------------------------------------------------------------------------------------


def test_an_arabic_sms_starts_with_a_right_to_left_mark_and_carries_the_wave_name_and_a_personal_link(
    clock: Clock, wave: Wave, amira_p: Participant, app_url: str
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    subject, body = render(
        reminder=invitation, policy=reminders.policy_for(invitation.schedule), channel="sms"
    )
    link = LINK.search(body)
    assert link is not None
    assert (subject, link.group(2)) == ("قبل سفرك", "pre-departure")
    # the window closes at midnight starting 11 March in Nairobi: its last day is 10 March
    assert body == f"{RLM}قبل سفرك: أسئلتك التالية جاهزة. أجب هنا قبل 2027-03-10: {link.group(0)}"


def test_the_personal_link_in_a_reminder_opens_the_participants_own_session(
    clock: Clock, wave: Wave, amira_p: Participant, app_url: str
) -> None:
    claim(T0)
    prepared = reminders.reminder_begin(reminder_id=reminder_of(amira_p, wave, "invitation").pk, now=T0)
    assert prepared is not None
    link = LINK.search(prepared.body)
    assert link is not None
    answer = APIClient().post("/api/v1/access/link/", {"token": link.group(1)}, format="json")
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["pseudonym"], answer.json()["preferred_language"]) == (amira_p.pseudonym, "ar")


def test_each_kind_of_message_has_its_own_arabic_text(
    clock: Clock, wave: Wave, amira_p: Participant, app_url: str
) -> None:
    bodies = {}
    for kind, sequence in (("reminder", 1), ("last_chance", 0)):
        reminder = reminder_of(amira_p, wave, kind, sequence)
        _subject, body = render(
            reminder=reminder, policy=reminders.policy_for(reminder.schedule), channel="sms"
        )
        bodies[kind] = LINK.sub("<link>", body)
    assert bodies == {
        "reminder": f"{RLM}قبل سفرك: تذكير لطيف، إجاباتك مهمة لنا. <link>",
        "last_chance": f"{RLM}قبل سفرك: الفرصة الأخيرة، تُغلق الأسئلة في 2027-03-10. <link>",
    }


def test_an_arabic_email_has_no_direction_mark(
    clock: Clock, wave: Wave, amira_p: Participant, app_url: str
) -> None:
    invitation = reminder_of(amira_p, wave, "invitation")
    _subject, body = render(
        reminder=invitation, policy=reminders.policy_for(invitation.schedule), channel="email"
    )
    assert LINK.sub("<link>", body) == "قبل سفرك: أسئلتك التالية جاهزة. أجب هنا قبل 2027-03-10: <link>"


def test_a_swedish_sms_is_in_swedish_without_a_direction_mark(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText, app_url: str
) -> None:
    sven = person(site_a, fatima_user, consent_text, phone="+46705555555", preferred_language="sv")
    invitation = reminder_of(sven, wave, "invitation")
    subject, body = render(
        reminder=invitation, policy=reminders.policy_for(invitation.schedule), channel="sms"
    )
    assert subject == "Innan du reser"
    assert (
        LINK.sub("<link>", body)
        == "Innan du reser: dina nästa frågor är klara. Svara här före 2027-03-10: <link>"
    )


def test_a_waves_own_text_replaces_the_default_in_the_participants_language(
    clock: Clock, wave: Wave, amira_p: Participant, app_url: str
) -> None:
    policy_create(
        wave,
        texts={
            "invitation_text": {"en": "Hello, {wave}: {link}", "ar": "مرحبا، {wave} حتى {closes_on}: {link}"}
        },
    )
    invitation = reminder_of(amira_p, wave, "invitation")
    _subject, body = render(
        reminder=invitation, policy=reminders.policy_for(invitation.schedule), channel="sms"
    )
    assert LINK.sub("<link>", body) == f"{RLM}مرحبا، قبل سفرك حتى 2027-03-10: <link>"


def test_only_the_three_placeholders_are_replaced_and_nothing_is_evaluated(
    clock: Clock, wave: Wave, amira_p: Participant, app_url: str
) -> None:
    template = "{link.__class__} {wave!r} {0} {closes_on.__class__.__mro__} {participant} {closes_on} {link}"
    policy_create(wave, texts={"invitation_text": {"en": template, "ar": template}})
    invitation = reminder_of(amira_p, wave, "invitation")
    _subject, body = render(
        reminder=invitation, policy=reminders.policy_for(invitation.schedule), channel="sms"
    )
    assert LINK.sub("<link>", body) == (
        f"{RLM}{{link.__class__}} {{wave!r}} {{0}} {{closes_on.__class__.__mro__}} {{participant}} 2027-03-10 <link>"
    )


# --- late entry of an anchor date ---------------------------------------------------------------------------


def test_an_arrival_date_entered_late_sends_one_invitation_not_a_burst_of_overdue_reminders(
    clock: Clock, arrival_wave: Wave, amira_p: Participant
) -> None:
    # given amira arrived on 21 January, and staff enter it 20 days later (window open until 20 February)
    clock.move_to(utc(2027, 2, 10, 9))
    arrive(amira_p, datetime.date(2027, 1, 21))
    # when the next tick runs
    sent = send_due(clock.now)
    # then she gets the invitation now, not the invitation and two "friendly reminders" with it
    assert sent == [("invitation", 0)]
