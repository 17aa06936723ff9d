"""Drafts: answers so far, encrypted with the server key ring, fetched to continue on another phone, and
deleted on completion or when the window closes unfinished."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from participants.crypto.keyring import DecryptionError
from participants.models import Participant, ParticipantWave, Response, Submission
from participants.responses import services as response_services
from participants.responses.opening import open_response
from participants.tasks import schedules_advance
from surveys.models import Wave
from tests.participants.responses.conftest import (
    answer_fully,
    answers_url,
    phone_for,
    post_complete,
    post_page,
)

FAMILY = {"Q1": {"special": "-1"}, "Q49": 8}
WORK = {"EMPLOYED": "yes", "HOURS": 12}


def test_before_any_page_there_is_nothing_to_continue(wave: Wave, study_key: Any, amira: APIClient) -> None:
    # when
    response = amira.get(answers_url(wave))
    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "not_started",
        "answers": {},
        "sections_submitted": [],
        "language": "ar",
    }


def test_another_phone_fetches_exactly_the_answers_and_pages_so_far(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given page 1 was answered on phone A
    assert post_page(amira, wave, "family", FAMILY).status_code == 200
    # when amira signs in on phone B with a fresh access code
    phone_b = phone_for(amira_participant)
    response = phone_b.get(answers_url(wave))
    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "in_progress", "answers": FAMILY, "sections_submitted": ["family"], "language": "ar",
    }  # fmt: skip


def test_another_phone_continues_and_completes_the_wave(
    wave: Wave, study_key: Any, research_keypair: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given page 1 on phone A
    assert post_page(amira, wave, "family", FAMILY).status_code == 200
    phone_b = phone_for(amira_participant)
    # when phone B sends page 2 and completes
    page = post_page(phone_b, wave, "work", WORK)
    done = post_complete(phone_b, wave)
    # then
    assert (page.status_code, done.status_code) == (200, 200)
    assert (page.json()["sections_submitted"], page.json()["next_section"]) == (["family", "work"], None)
    response = Response.objects.get(participant=amira_participant, wave=wave)
    assert open_response(response, private_key=research_keypair[0])["answers"] == {**FAMILY, **WORK}
    # and phone A, still signed in, sees the wave completed
    assert amira.get(answers_url(wave)).json() == {
        "status": "completed", "answers": {}, "sections_submitted": ["family", "work"], "language": "ar",
    }  # fmt: skip


def test_a_page_sent_again_replaces_its_earlier_answers_only(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    post_page(amira, wave, "work", WORK)
    # when amira changes her mind on page 1
    response = post_page(amira, wave, "family", {"Q1": "2", "Q49": 1})
    # then
    assert response.status_code == 200
    assert amira.get(answers_url(wave)).json()["answers"] == {"Q1": "2", "Q49": 1, **WORK}
    assert response.json()["sections_submitted"] == ["family", "work"]


def test_a_page_sent_again_without_an_answer_drops_that_answer(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given she said she works 12 hours
    post_page(amira, wave, "work", WORK)
    # when she sends the page again saying she does not work
    response = post_page(amira, wave, "work", {"EMPLOYED": "no"})
    # then HOURS is gone
    assert response.status_code == 200
    assert amira.get(answers_url(wave)).json()["answers"] == {"EMPLOYED": "no"}


def test_pages_answered_out_of_order_are_listed_in_questionnaire_order(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    second = post_page(amira, wave, "work", WORK)
    first = post_page(amira, wave, "family", FAMILY)
    # then
    assert (second.json()["sections_submitted"], second.json()["next_section"]) == (["work"], "family")
    assert (first.json()["sections_submitted"], first.json()["next_section"]) == (["family", "work"], None)


def test_the_draft_is_stored_encrypted_and_emptied_on_completion(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    post_page(amira, wave, "work", WORK)
    draft = Response.objects.get().draft_encrypted
    # when
    assert post_complete(amira, wave).status_code == 200
    # then
    assert draft.startswith("v1.")
    assert ("HOURS" in draft, "EMPLOYED" in draft, "special" in draft) == (False, False, False)
    completed = Response.objects.get()
    assert (completed.draft_encrypted, completed.status) == ("", "completed")
    assert ParticipantWave.objects.get(participant=amira_participant, wave=wave).status == "completed"


def test_a_draft_copied_into_another_response_cannot_be_read(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient, bashir: APIClient
) -> None:
    # given both have a draft
    post_page(amira, wave, "family", FAMILY)
    post_page(bashir, wave, "family", {"Q1": "2", "Q49": 3})
    amiras = Response.objects.get(participant=amira_participant)
    # when amira's draft is copied into bashir's row
    Response.objects.exclude(pk=amiras.pk).update(draft_encrypted=amiras.draft_encrypted)
    bashirs = Response.objects.exclude(pk=amiras.pk).get()
    # then it does not decrypt there
    with pytest.raises(DecryptionError):
        response_services.draft_answers(bashirs)


def test_when_the_window_closes_the_draft_is_deleted_and_the_wave_is_missed(
    wave: Wave,
    study_key: Any,
    research_keypair: Any,
    amira_participant: Participant,
    bashir_participant: Participant,
    amira: APIClient,
    bashir: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given amira left her wave half done, bashir completed his
    post_page(amira, wave, "family", FAMILY)
    assert [response.status_code for response in answer_fully(bashir, wave)] == [200, 200, 200]
    closes_at = ParticipantWave.objects.get(participant=amira_participant, wave=wave).closes_at
    # when the window has closed and the periodic task runs
    with time_machine.travel(closes_at + datetime.timedelta(minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            closed = schedules_advance()
        # then
        late = post_page(amira, wave, "work", WORK)
    assert closed == 1
    assert callbacks == []  # one batch was enough: nothing re-queued
    assert not Response.objects.filter(participant=amira_participant).exists()
    assert not Submission.objects.filter(response__participant=amira_participant).exists()
    assert ParticipantWave.objects.get(participant=amira_participant, wave=wave).status == "missed"
    assert (late.status_code, late.json()["code"]) == (409, "wave_not_open")
    # bashir's sealed response is untouched
    sealed = Response.objects.get(participant=bashir_participant)
    assert open_response(sealed, private_key=research_keypair[0])["answers"] == {
        "Q1": "1", "Q49": 4, "EMPLOYED": "yes", "HOURS": 20,
    }  # fmt: skip
    assert ParticipantWave.objects.get(participant=bashir_participant, wave=wave).status == "completed"


def test_after_the_window_closed_the_draft_fetch_shows_nothing_started(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    closes_at = ParticipantWave.objects.get(participant=amira_participant, wave=wave).closes_at
    # when
    with time_machine.travel(closes_at + datetime.timedelta(hours=1), tick=False):
        schedules_advance()
        response = amira.get(answers_url(wave))
    # then
    assert response.json() == {
        "status": "not_started",
        "answers": {},
        "sections_submitted": [],
        "language": "ar",
    }
