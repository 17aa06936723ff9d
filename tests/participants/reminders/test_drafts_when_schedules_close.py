"""Drafts go when the schedule row closes unanswered (missed or withdrawn), whatever moved it there.

The periodic task's case (a window passing) is in tests/participants/responses/test_drafts.py; here the rows
are moved by withdrawal and by corrected dates (``schedules_sync``). A removed anchor date keeps the draft,
until the participant withdraws.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import User

from participants.models import Participant, ParticipantWave, Response
from participants.services import register
from surveys.models import QuestionnaireVersion, Study, Wave
from tests.participants.reminders.conftest import (
    Clock,
    arrive,
    complete_wave,
    make_wave,
    schedule_of,
    utc,
)
from tests.participants.responses.conftest import answers_url, phone_for, post_page

FAMILY = {"Q1": "1", "Q49": 4}


def _responses(participant: Participant) -> list[tuple[str, str]]:
    """(wave key, status) of every response the participant has, by wave key."""
    return sorted(Response.objects.filter(participant=participant).values_list("wave__key", "status"))


def _start(participant: Participant, wave: Wave) -> None:
    """The first page, posted from her phone: the wave now has a draft."""
    answer = post_page(phone_for(participant), wave, "family", FAMILY)
    assert answer.status_code == 200, answer.json()
    assert (wave.key, "in_progress") in _responses(participant)


def _draft_kept_after_the_arrival_date_was_cleared(
    clock: Clock, participant: Participant, wave: Wave, by: User
) -> None:
    """She arrived on 20 January, answered a first page on the 21st, then the date was cleared: no row, a draft."""
    clock.move_to(utc(2027, 1, 21, 9))
    arrive(participant, datetime.date(2027, 1, 20))
    _start(participant, wave)
    arrive(participant, None, by=by)  # type: ignore[arg-type]


def test_withdrawal_deletes_the_draft_and_keeps_the_completed_response_of_another_wave(
    clock: Clock, study: Study, published: QuestionnaireVersion, wave: Wave, study_key: object,
    amira_p: Participant,
) -> None:  # fmt: skip
    # given amira completed a short welcome wave and started the pre-departure wave (both open)
    welcome = make_wave(study, "welcome", anchor="enrollment", window_days=30, version=published)
    complete_wave(amira_p, welcome)
    _start(amira_p, wave)
    # when she withdraws (without erasure)
    register.participant_withdraw(participant=amira_p, scope="stop_contact")
    # then the draft is gone; the sealed response stays, and so do both rows' outcomes
    assert _responses(amira_p) == [("welcome", "completed")]
    assert (schedule_of(amira_p, wave).status, schedule_of(amira_p, welcome).status) == (
        "withdrawn",
        "completed",
    )


def test_a_corrected_date_that_puts_the_window_in_the_past_marks_it_missed_and_deletes_the_draft(
    clock: Clock, arrival_wave: Wave, study_key: object, amira_p: Participant, fatima_user: User
) -> None:
    # given she arrived on 20 January (window until 19 February) and, on 15 February, answered a first page
    clock.move_to(utc(2027, 1, 21, 9))
    arrive(amira_p, datetime.date(2027, 1, 20))
    clock.move_to(utc(2027, 2, 15, 9))
    _start(amira_p, arrival_wave)
    # when fatima corrects the arrival date to 11 January: the window closed on 10 February
    arrive(amira_p, datetime.date(2027, 1, 11), by=fatima_user)
    # then the row is missed and the draft deleted with it
    assert schedule_of(amira_p, arrival_wave).status == "missed"
    assert schedule_of(amira_p, arrival_wave).closes_at == utc(2027, 2, 9, 23)
    assert _responses(amira_p) == []


def test_a_removed_arrival_date_keeps_the_draft_for_when_the_date_is_entered_again(
    clock: Clock, arrival_wave: Wave, study_key: object, amira_p: Participant, fatima_user: User
) -> None:
    # when she arrived on 20 January, answered a first page, and the date is cleared (entered by mistake, say)
    _draft_kept_after_the_arrival_date_was_cleared(clock, amira_p, arrival_wave, fatima_user)
    # then there is no row, but the draft stays
    assert ParticipantWave.objects.filter(participant=amira_p, wave=arrival_wave).count() == 0
    assert _responses(amira_p) == [("arrival", "in_progress")]
    # ... and once the date is entered again she continues where she stopped
    arrive(amira_p, datetime.date(2027, 1, 20), by=fatima_user)
    answer = phone_for(amira_p).get(answers_url(arrival_wave))
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["answers"]) == ("in_progress", FAMILY)


def test_a_draft_kept_after_a_removed_date_goes_when_a_date_in_the_past_is_entered(
    clock: Clock, arrival_wave: Wave, study_key: object, amira_p: Participant, fatima_user: User
) -> None:
    # given a draft kept when the arrival date was cleared
    _draft_kept_after_the_arrival_date_was_cleared(clock, amira_p, arrival_wave, fatima_user)
    # when, on 15 February, an arrival date of 11 January is entered (its window closed on 10 February)
    clock.move_to(utc(2027, 2, 15, 9))
    arrive(amira_p, datetime.date(2027, 1, 11), by=fatima_user)
    # then the row comes back missed, without the draft
    assert schedule_of(amira_p, arrival_wave).status == "missed"
    assert _responses(amira_p) == []


def test_a_draft_kept_after_a_removed_date_goes_when_the_participant_withdraws(
    clock: Clock, study: Study, published: QuestionnaireVersion, arrival_wave: Wave, study_key: object,
    amira_p: Participant, fatima_user: User,
) -> None:  # fmt: skip
    # given a draft kept when the arrival date was cleared, and a completed wave
    welcome = make_wave(study, "welcome", anchor="enrollment", window_days=30, version=published)
    complete_wave(amira_p, welcome)
    _draft_kept_after_the_arrival_date_was_cleared(clock, amira_p, arrival_wave, fatima_user)
    # when she withdraws (without erasure)
    register.participant_withdraw(participant=amira_p, scope="stop_contact")
    # then the draft is gone, the sealed response stays, and no row was made for the wave
    assert _responses(amira_p) == [("welcome", "completed")]
    assert ParticipantWave.objects.filter(participant=amira_p, wave=arrival_wave).count() == 0
