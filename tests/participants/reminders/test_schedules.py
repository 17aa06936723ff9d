"""Windows: when each wave opens and closes for each participant, and how the rows follow changed dates.

A wave opens at local midnight of anchor date + offset (months first, clamped at month ends), in the enrollment
site's time zone before arrival and in Europe/Stockholm after; instants below are asserted in UTC.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from participants.models import ConsentText, Participant, ParticipantWave, Reminder, Site
from participants.reminders.schedules import Window, schedules_sync, status_at, window_for
from participants.services import register
from participants.tasks import schedules_advance
from surveys.models import QuestionnaireVersion, Study, Wave
from tests.participants.reminders.conftest import (
    Clock,
    arrive,
    complete_wave,
    make_wave,
    participant_url,
    person,
    plan_of,
    reminder_of,
    schedule_of,
    send_due,
    utc,
    window_of,
)

NAIROBI, AMMAN, STOCKHOLM = "Africa/Nairobi", "Asia/Amman", "Europe/Stockholm"


def _day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


# --- each anchor ----------------------------------------------------------------------------------------------


def test_a_wave_anchored_on_enrollment_opens_at_midnight_in_the_sites_time_zone(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given amira, enrolled in Nairobi on 10 January 2027, leaving on 1 June; the wave lasts 60 days
    # then her window is [10 Jan, 11 Mar) in Nairobi time (UTC+3), open now
    assert window_of(amira_p, wave) == ("open", utc(2027, 1, 9, 21), utc(2027, 3, 10, 21), NAIROBI)
    assert schedule_of(amira_p, wave).anchor_date == datetime.date(2027, 1, 10)


def test_a_wave_anchored_on_departure_opens_relative_to_the_planned_departure(
    clock: Clock, study: Study, site_b: Site, gustav_user: User, consent_text: ConsentText
) -> None:
    # given a wave two weeks before departure, and bashir enrolled in Amman, leaving on 1 March
    farewell = make_wave(study, "farewell", anchor="departure", offset_days=-14, window_days=14)
    bashir = person(
        site_b, gustav_user, consent_text, phone="+46702222222", planned_departure_on=_day("2027-03-01")
    )
    # then it opens on 15 February and closes on 1 March, at midnight in Amman (UTC+3)
    assert window_of(bashir, farewell) == ("scheduled", utc(2027, 2, 14, 21), utc(2027, 2, 28, 21), AMMAN)
    assert schedule_of(bashir, farewell).anchor_date == _day("2027-03-01")


def test_a_wave_anchored_on_arrival_opens_at_midnight_in_stockholm(
    clock: Clock, arrival_wave: Wave, amira_p: Participant
) -> None:
    # when she arrives on 3 May 2027 (summer time in Sweden, UTC+2)
    clock.move_to(utc(2027, 5, 3, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2027-05-03"))
    # then
    assert window_of(amira_p, arrival_wave) == (
        "open",
        utc(2027, 5, 2, 22),
        utc(2027, 6, 1, 22),
        STOCKHOLM,
    )
    assert schedule_of(amira_p, arrival_wave).anchor_date == _day("2027-05-03")


def test_a_departure_wave_after_arrival_opens_in_stockholm_time_and_before_it_in_the_sites(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    # given a wave 30 days after the planned departure (1 June 2027): 1 July
    settling = make_wave(study, "settling", anchor="departure", offset_days=30, window_days=10)
    # then before her arrival is known it opens at midnight in Nairobi
    assert window_of(amira_p, settling) == ("scheduled", utc(2027, 6, 30, 21), utc(2027, 7, 10, 21), NAIROBI)
    # when she arrived on 2 June
    clock.move_to(utc(2027, 6, 2, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2027-06-02"))
    # then it opens at midnight in Stockholm instead (summer time, UTC+2)
    assert window_of(amira_p, settling) == (
        "scheduled",
        utc(2027, 6, 30, 22),
        utc(2027, 7, 10, 22),
        STOCKHOLM,
    )


# --- offsets across month ends and leap days ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrived_on", "offset_months", "offset_days", "opens_on"),
    [
        ("2027-01-31", 1, 0, "2027-02-28"),  # clamped to the end of February
        ("2028-01-31", 1, 0, "2028-02-29"),  # ... which has 29 days in 2028
        ("2028-02-29", 12, 0, "2029-02-28"),  # a leap day plus a year
        ("2027-08-31", 1, 0, "2027-09-30"),
        ("2027-03-31", -1, 0, "2027-02-28"),
        ("2027-01-30", 1, 2, "2027-03-02"),  # months first (28 Feb), then days; days first would give 1 Mar
        ("2027-12-15", 0, 20, "2028-01-04"),
    ],
)
def test_offsets_add_months_first_clamped_at_month_ends_then_days(
    clock: Clock,
    study: Study,
    amira_p: Participant,
    arrived_on: str,
    offset_months: int,
    offset_days: int,
    opens_on: str,
) -> None:
    # given a wave anchored on arrival with the offset
    later = make_wave(study, "later", anchor="arrival", offset_months=offset_months, offset_days=offset_days)
    amira_p.arrived_on = _day(arrived_on)
    # when
    window = window_for(amira_p, later)
    # then it opens at Stockholm midnight of that day and lasts 30 days
    assert window is not None
    midnight = datetime.datetime.combine(
        _day(opens_on), datetime.time.min, tzinfo=zoneinfo.ZoneInfo(STOCKHOLM)
    )
    assert (window.anchor_date, window.opens_at, window.time_zone) == (_day(arrived_on), midnight, STOCKHOLM)
    assert window.closes_at == midnight + datetime.timedelta(days=30)


def test_a_month_offset_from_31_january_opens_on_28_february_at_stockholm_midnight(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    month_later = make_wave(study, "month-later", anchor="arrival", offset_months=1, window_days=14)
    clock.move_to(utc(2027, 1, 31, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2027-01-31"))
    # 28 Feb 2027 00:00 CET is 27 Feb 23:00 UTC; 14 days later is 14 Mar 00:00 CET
    assert window_of(amira_p, month_later) == (
        "scheduled",
        utc(2027, 2, 27, 23),
        utc(2027, 3, 13, 23),
        STOCKHOLM,
    )


def test_a_year_after_a_leap_day_opens_on_28_february(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    anniversary = make_wave(study, "anniversary", anchor="arrival", offset_months=12, window_days=30)
    clock.move_to(utc(2028, 2, 29, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2028-02-29"))
    assert window_of(amira_p, anniversary) == (
        "scheduled",
        utc(2029, 2, 27, 23),
        utc(2029, 3, 29, 22),
        STOCKHOLM,
    )


# --- daylight saving time in Stockholm ------------------------------------------------------------------------


def test_a_window_opening_on_the_spring_dst_day_opens_at_cet_midnight_and_lasts_23_hours(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    # given a one-day wave, and arrival on Sunday 28 March 2027, when clocks go from 02:00 to 03:00
    one_day = make_wave(study, "one-day", anchor="arrival", window_days=1)
    clock.move_to(utc(2027, 3, 28, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2027-03-28"))
    # then it opens at 00:00 CET (UTC+1) and closes at 00:00 CEST (UTC+2) on the 29th
    status, opens_at, closes_at, zone = window_of(amira_p, one_day)
    assert (opens_at, closes_at, zone) == (utc(2027, 3, 27, 23), utc(2027, 3, 28, 22), STOCKHOLM)
    assert closes_at - opens_at == datetime.timedelta(hours=23)


def test_a_window_opening_on_the_autumn_dst_day_opens_at_cest_midnight_and_lasts_25_hours(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    # given arrival on Sunday 31 October 2027, when clocks go from 03:00 back to 02:00
    one_day = make_wave(study, "one-day", anchor="arrival", window_days=1)
    clock.move_to(utc(2027, 10, 31, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2027-10-31"))
    # then it opens at 00:00 CEST (UTC+2) and closes at 00:00 CET (UTC+1) on 1 November
    status, opens_at, closes_at, zone = window_of(amira_p, one_day)
    assert (opens_at, closes_at, zone) == (utc(2027, 10, 30, 22), utc(2027, 10, 31, 23), STOCKHOLM)
    assert closes_at - opens_at == datetime.timedelta(hours=25)


def test_a_window_closing_on_a_dst_day_closes_at_that_days_local_midnight(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    # given a 7-day wave opening on 21 March 2027 (CET): it closes on 28 March, the spring DST day
    week = make_wave(study, "week", anchor="arrival", window_days=7)
    clock.move_to(utc(2027, 3, 21, 12))  # arrival is recorded once it happened
    arrive(amira_p, _day("2027-03-21"))
    assert window_of(amira_p, week)[1:] == (utc(2027, 3, 20, 23), utc(2027, 3, 27, 23), STOCKHOLM)


# --- the pre-departure wave ---------------------------------------------------------------------------------


def test_the_pre_departure_wave_closes_at_the_planned_departure_when_that_comes_first(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    # given someone leaving on 1 February 2027, 22 days after enrollment (the wave lasts 60 days)
    leaving = person(
        site_a, fatima_user, consent_text, phone="+46703333333", planned_departure_on=_day("2027-02-01")
    )
    # then the window closes at midnight (Nairobi) of the departure day
    assert window_of(leaving, wave) == ("open", utc(2027, 1, 9, 21), utc(2027, 1, 31, 21), NAIROBI)


def test_a_delayed_departure_extends_the_pre_departure_window_up_to_its_length(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    leaving = person(
        site_a, fatima_user, consent_text, phone="+46703333333", planned_departure_on=_day("2027-02-01")
    )
    # when the departure moves to 1 July (beyond the 60 days)
    register.participant_update(participant=leaving, by=fatima_user, planned_departure_on=_day("2027-07-01"))
    # then the window is the wave's full 60 days
    assert window_of(leaving, wave) == ("open", utc(2027, 1, 9, 21), utc(2027, 3, 10, 21), NAIROBI)


# --- rows appear when the anchor is known -------------------------------------------------------------------


def test_no_row_exists_while_the_arrival_date_is_unknown_and_one_appears_once_it_is_entered(
    clock: Clock, arrival_wave: Wave, amira_p: Participant, fatima: APIClient
) -> None:
    # given amira has not arrived yet
    assert ParticipantWave.objects.filter(participant=amira_p, wave=arrival_wave).count() == 0
    # when, the day after she arrived, fatima enters her arrival date
    clock.move_to(utc(2027, 1, 21, 9))
    answer = fatima.patch(participant_url(amira_p), {"arrived_on": "2027-01-20"}, format="json")
    # then the arrival wave is open from Stockholm midnight of that day
    assert answer.status_code == 200, answer.json()
    assert answer.json()["arrived_on"] == "2027-01-20"
    assert window_of(amira_p, arrival_wave) == (
        "open",
        utc(2027, 1, 19, 23),
        utc(2027, 2, 18, 23),
        STOCKHOLM,
    )
    assert [(kind, sequence, status) for kind, sequence, _due, status in plan_of(amira_p, arrival_wave)] == [
        ("invitation", 0, "pending"),
        ("reminder", 1, "pending"),
        ("reminder", 2, "pending"),
        ("reminder", 3, "pending"),
        ("last_chance", 0, "pending"),
    ]


def test_removing_the_arrival_date_removes_the_rows_that_depended_on_it(
    clock: Clock, arrival_wave: Wave, amira_p: Participant, fatima: APIClient
) -> None:
    clock.move_to(utc(2027, 1, 21, 9))
    assert (
        fatima.patch(participant_url(amira_p), {"arrived_on": "2027-01-20"}, format="json").status_code == 200
    )
    assert ParticipantWave.objects.filter(participant=amira_p, wave=arrival_wave).count() == 1
    # when the date turns out to be wrong and is cleared
    answer = fatima.patch(participant_url(amira_p), {"arrived_on": None}, format="json")
    # then
    assert answer.status_code == 200
    assert ParticipantWave.objects.filter(participant=amira_p, wave=arrival_wave).count() == 0
    assert Reminder.objects.filter(schedule__participant=amira_p, schedule__wave=arrival_wave).count() == 0


def test_someone_who_never_answered_the_pre_departure_wave_still_gets_the_arrival_waves(
    clock: Clock, wave: Wave, arrival_wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText,
    fatima: APIClient,
) -> None:  # fmt: skip
    # given the pre-departure window passed without an answer
    leaving = person(
        site_a, fatima_user, consent_text, phone="+46703333333", planned_departure_on=_day("2027-02-01")
    )
    clock.move_to(utc(2027, 2, 3, 9))
    schedules_advance()
    assert schedule_of(leaving, wave).status == "missed"
    # when she arrives on 3 February and fatima records it
    answer = fatima.patch(participant_url(leaving), {"arrived_on": "2027-02-03"}, format="json")
    # then the arrival wave is open for her, and its invitation is due
    assert answer.status_code == 200
    assert window_of(leaving, arrival_wave) == ("open", utc(2027, 2, 2, 23), utc(2027, 3, 4, 23), STOCKHOLM)
    assert reminder_of(leaving, arrival_wave, "invitation").status == "pending"
    assert schedule_of(leaving, wave).status == "missed"


# --- corrected arrival date ---------------------------------------------------------------------------------


def test_a_corrected_arrival_date_moves_the_windows_and_the_pending_reminders_only(
    clock: Clock, study: Study, published: QuestionnaireVersion, study_key: object, amira_p: Participant,
) -> None:  # fmt: skip
    # given two arrival waves (a short welcome wave, and the first month) and arrival entered as 22 January
    welcome = make_wave(study, "welcome", anchor="arrival", window_days=14, version=published)
    first_month = make_wave(study, "first-month", anchor="arrival", window_days=30, version=published)
    later = make_wave(study, "six-months", anchor="arrival", offset_months=6, window_days=30)
    clock.move_to(utc(2027, 1, 22, 9))
    arrive(amira_p, _day("2027-01-22"))
    # ... she answered the welcome wave, and the first month's invitation went out
    complete_wave(amira_p, welcome)
    assert send_due(clock.now) == [("invitation", 0)]
    welcome_before = window_of(amira_p, welcome)
    # when the arrival date is corrected to 20 January
    arrive(amira_p, _day("2027-01-20"))
    # then the completed wave's row stays as it was
    assert welcome_before == ("completed", utc(2027, 1, 21, 23), utc(2027, 2, 4, 23), STOCKHOLM)
    assert window_of(amira_p, welcome) == welcome_before
    # ... the open and future windows move two days earlier
    assert window_of(amira_p, first_month) == ("open", utc(2027, 1, 19, 23), utc(2027, 2, 18, 23), STOCKHOLM)
    assert window_of(amira_p, later) == ("scheduled", utc(2027, 7, 19, 22), utc(2027, 8, 18, 22), STOCKHOLM)
    # ... the invitation already sent stays sent at its old time; the pending reminders move with the window
    assert plan_of(amira_p, first_month) == [
        ("invitation", 0, utc(2027, 1, 21, 23), "sent"),
        ("reminder", 1, utc(2027, 1, 22, 23), "pending"),
        ("reminder", 2, utc(2027, 1, 26, 23), "pending"),
        ("reminder", 3, utc(2027, 2, 2, 23), "pending"),
        ("last_chance", 0, utc(2027, 2, 16, 23), "pending"),
    ]


# --- window edges -------------------------------------------------------------------------------------------


def test_a_window_is_open_from_its_opening_instant_and_missed_from_its_closing_instant() -> None:
    window = Window(
        anchor_date=datetime.date(2027, 1, 10), opens_at=utc(2027, 1, 9, 21), closes_at=utc(2027, 3, 10, 21),
        time_zone=NAIROBI,
    )  # fmt: skip
    tick = datetime.timedelta(microseconds=1)
    assert [
        status_at(window, instant)
        for instant in (window.opens_at - tick, window.opens_at, window.closes_at - tick, window.closes_at)
    ] == ["scheduled", "open", "open", "missed"]


def test_syncing_exactly_at_the_closing_instant_marks_the_row_missed(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    schedules_sync(participant=amira_p, now=utc(2027, 3, 10, 21) - datetime.timedelta(microseconds=1))
    assert schedule_of(amira_p, wave).status == "open"
    schedules_sync(participant=amira_p, now=utc(2027, 3, 10, 21))
    assert schedule_of(amira_p, wave).status == "missed"


def test_syncing_exactly_at_the_opening_instant_marks_the_row_open(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    later = make_wave(study, "later", anchor="enrollment", offset_days=5, window_days=10)
    schedules_sync(participant=amira_p, now=utc(2027, 1, 14, 21) - datetime.timedelta(microseconds=1))
    assert schedule_of(amira_p, later).status == "scheduled"
    schedules_sync(participant=amira_p, now=utc(2027, 1, 14, 21))
    assert schedule_of(amira_p, later).status == "open"


# --- withdrawal ---------------------------------------------------------------------------------------------


def test_withdrawal_marks_the_rows_withdrawn_and_cancels_pending_reminders(
    clock: Clock, study: Study, wave: Wave, amira_p: Participant, fatima: APIClient
) -> None:
    # given an open pre-departure wave whose invitation went out, and a wave six months after enrollment
    later = make_wave(study, "six-months", anchor="enrollment", offset_months=6, window_days=30)
    assert send_due(clock.now) == [("invitation", 0)]
    # when fatima records her withdrawal
    answer = fatima.post(participant_url(amira_p, "withdraw/"), {"scope": "stop_contact"}, format="json")
    # then
    assert answer.status_code == 200, answer.json()
    assert (schedule_of(amira_p, wave).status, schedule_of(amira_p, later).status) == (
        "withdrawn",
        "withdrawn",
    )
    statuses = Reminder.objects.filter(schedule__participant=amira_p).values_list("kind", "status", "outcome")
    assert sorted(statuses) == sorted(
        [("invitation", "sent", "")]
        + [("reminder", "cancelled", "participant withdrew")] * 3
        + [("last_chance", "cancelled", "participant withdrew")]
        + [("invitation", "cancelled", "participant withdrew")]
        + [("reminder", "cancelled", "participant withdrew")] * 3
        + [("last_chance", "cancelled", "participant withdrew")]
    )


def test_withdrawal_keeps_a_completed_wave_completed(
    clock: Clock, wave: Wave, study_key: object, amira_p: Participant
) -> None:
    complete_wave(amira_p, wave)
    register.participant_withdraw(participant=amira_p, scope="stop_contact")
    assert schedule_of(amira_p, wave).status == "completed"


def test_entering_an_arrival_date_after_withdrawal_schedules_nothing(
    clock: Clock, arrival_wave: Wave, amira_p: Participant
) -> None:
    register.participant_withdraw(participant=amira_p, scope="stop_contact")
    clock.move_to(utc(2027, 2, 1, 12))
    arrive(amira_p, _day("2027-02-01"))
    assert ParticipantWave.objects.filter(participant=amira_p, wave=arrival_wave).count() == 0
    assert Reminder.objects.filter(schedule__participant=amira_p, status="pending").count() == 0


def test_withdrawal_leaves_a_wave_that_was_already_missed_as_missed(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    # given the pre-departure window closed unanswered on 1 February
    leaving = person(
        site_a, fatima_user, consent_text, phone="+46703333333", planned_departure_on=_day("2027-02-01")
    )
    clock.move_to(utc(2027, 3, 1, 9))
    schedules_advance()
    assert schedule_of(leaving, wave).status == "missed"
    # when she withdraws a month later
    register.participant_withdraw(participant=leaving, scope="stop_contact")
    # then that wave's outcome is still "missed" (it was over before she withdrew)
    assert schedule_of(leaving, wave).status == "missed"


def test_sync_schedules_reaches_participants_enrolled_before_a_wave_was_added(
    study, published, amira_participant
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from participants.models import ParticipantWave
    from surveys import services as survey_services

    # given a wave added after amira enrolled
    late = survey_services.wave_create(
        study=study, key="added-later", name={"en": "Later", "sv": "Senare", "ar": "لاحقا"},
        questionnaire_version=published, anchor="enrollment", window_days=30,
    )  # fmt: skip
    assert ParticipantWave.objects.filter(participant=amira_participant, wave=late).count() == 0
    # when
    out = StringIO()
    call_command("sync_schedules", study.slug, stdout=out)
    # then
    assert ParticipantWave.objects.filter(participant=amira_participant, wave=late).count() == 1
    assert "1 created" in out.getvalue()
