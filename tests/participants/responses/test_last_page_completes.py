"""The last page may complete the wave in the same request: validated once, sealed in the same transaction."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.test import APIClient

from participants.models import Participant, ParticipantWave, Response, Submission
from participants.responses.opening import open_response
from surveys.models import Wave
from tests.participants.responses.conftest import answer_errors, answers_url, page_body, post_page

FAMILY = {"Q1": "2", "Q49": 6}
WORK = {"EMPLOYED": "yes", "HOURS": 40}


def _last_page(
    client: APIClient, wave: Wave, answers: dict[str, Any], submission_id: str | None = None
) -> Any:
    body = {**page_body("work", answers, submission_id=submission_id), "complete": True}
    return client.post(answers_url(wave), body, format="json")


def test_the_last_page_completes_and_seals_the_wave_in_one_request(
    wave: Wave, study_key: Any, research_keypair: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    assert post_page(amira, wave, "family", FAMILY).status_code == 200
    submission_id = str(uuid.uuid4())
    # when
    response = _last_page(amira, wave, WORK, submission_id)
    # then
    assert response.status_code == 200, response.content
    sealed = Response.objects.select_related("participant__study", "wave").get()
    assert response.json() == {
        "submission_id": submission_id, "status": "completed", "response_id": sealed.pk, "replayed": False,
        "completed_at": sealed.completed_at.isoformat(), "key_fingerprint": study_key.fingerprint, "next_section": None,
    }  # fmt: skip
    assert open_response(sealed, private_key=research_keypair[0])["answers"] == {**FAMILY, **WORK}
    assert (sealed.status, sealed.draft_encrypted, sealed.sections_submitted) == (
        "completed",
        "",
        ["family", "work"],
    )
    assert ParticipantWave.objects.get(participant=amira_participant, wave=wave).status == "completed"


def test_a_completing_last_page_retried_returns_the_first_result(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    submission_id = str(uuid.uuid4())
    first = _last_page(amira, wave, WORK, submission_id)
    # when
    retry = _last_page(amira, wave, WORK, submission_id)
    without_completing = post_page(amira, wave, "work", WORK, submission_id=submission_id)
    # then
    assert retry.json() == {**first.json(), "replayed": True}
    assert (without_completing.status_code, without_completing.json()["code"]) == (
        409,
        "submission_id_reused",
    )
    assert Submission.objects.count() == 2


def test_a_completing_last_page_with_another_page_missing_keeps_nothing(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when amira completes from the last page without having answered the first
    response = _last_page(amira, wave, WORK)
    # then the missing answers are listed and this page is not kept either
    assert response.status_code == 400
    assert answer_errors(response) == [("Q1", "required"), ("Q49", "required")]
    assert amira.get(answers_url(wave)).json()["status"] == "not_started"
    assert (Response.objects.count(), Submission.objects.count()) == (0, 0)


def test_a_completing_last_page_with_a_wrong_answer_does_not_complete(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    # when
    response = _last_page(amira, wave, {"EMPLOYED": "yes", "HOURS": 100})
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("HOURS", "out_of_range")]
    stored = Response.objects.get()
    assert (stored.status, stored.sections_submitted) == ("in_progress", ["family"])
