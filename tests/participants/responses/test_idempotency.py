"""Every submission carries a client-generated id: a retry gets the first result and stores nothing twice,
also when the copies arrive at the same moment (PostgreSQL, real threads)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from participants.models import Participant, Response, Submission
from surveys.models import Wave
from tests.participants.responses.conftest import (
    answers_url,
    bearer_client,
    complete_url,
    page_body,
    post_complete,
    post_page,
    run_together,
    token_for,
)

FAMILY = {"Q1": "1", "Q49": 4}
WORK = {"EMPLOYED": "yes", "HOURS": 38}


def _without_replayed(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "replayed"}


def test_a_retried_page_returns_the_first_result_marked_replayed_and_is_stored_once(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    submission_id = str(uuid.uuid4())
    first = post_page(amira, wave, "family", FAMILY, submission_id=submission_id)
    stored = Response.objects.get()
    # when
    retry = post_page(amira, wave, "family", FAMILY, submission_id=submission_id)
    # then
    assert (first.status_code, retry.status_code) == (200, 200)
    assert first.json() == {
        "submission_id": submission_id, "status": "accepted", "response_id": stored.pk, "replayed": False,
        "section": "family", "sections_submitted": ["family"], "next_section": "work",
    }  # fmt: skip
    assert retry.json() == {**first.json(), "replayed": True}
    assert list(Submission.objects.values_list("submission_id", "kind")) == [
        (uuid.UUID(submission_id), "page")
    ]
    after = Response.objects.get()
    # the draft was not written again (a new encryption would have a new nonce)
    assert (after.draft_encrypted, after.updated_at) == (stored.draft_encrypted, stored.updated_at)


def test_a_retried_completion_returns_the_first_result_marked_replayed_and_seals_once(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    post_page(amira, wave, "work", WORK)
    submission_id = str(uuid.uuid4())
    first = post_complete(amira, wave, submission_id=submission_id)
    stored = Response.objects.get()
    sealed = bytes(stored.sealed_payload)
    # when
    retry = post_complete(amira, wave, submission_id=submission_id)
    # then
    assert (first.status_code, retry.status_code) == (200, 200)
    assert first.json() == {
        "submission_id": submission_id, "status": "completed", "response_id": stored.pk, "replayed": False,
        "completed_at": stored.completed_at.isoformat(), "key_fingerprint": study_key.fingerprint,
        "next_section": None,
    }  # fmt: skip
    assert retry.json() == {**first.json(), "replayed": True}
    assert Submission.objects.filter(kind="complete").count() == 1
    assert Submission.objects.count() == 3
    assert bytes(Response.objects.get().sealed_payload) == sealed


def test_a_page_retried_after_completion_still_gets_its_first_result(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given the phone never saw the answer to its last page, but completion went through
    work_id = str(uuid.uuid4())
    post_page(amira, wave, "family", FAMILY)
    first = post_page(amira, wave, "work", WORK, submission_id=work_id)
    assert post_complete(amira, wave).status_code == 200
    # when it retries the page
    retry = post_page(amira, wave, "work", WORK, submission_id=work_id)
    # then
    assert retry.status_code == 200
    assert retry.json() == {**first.json(), "replayed": True}


def test_the_same_submission_id_with_other_answers_is_a_conflict_and_the_draft_is_unchanged(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    submission_id = str(uuid.uuid4())
    assert post_page(amira, wave, "family", FAMILY, submission_id=submission_id).status_code == 200
    draft = Response.objects.get().draft_encrypted
    # when
    response = post_page(amira, wave, "family", {"Q1": "2", "Q49": 10}, submission_id=submission_id)
    # then
    assert (response.status_code, response.json()["code"]) == (409, "submission_id_reused")
    assert Response.objects.get().draft_encrypted == draft
    assert amira.get(answers_url(wave)).json()["answers"] == FAMILY
    assert Submission.objects.count() == 1


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(page_body("work", WORK), id="another-section"),
        pytest.param(page_body("family", FAMILY, language="en"), id="another-language"),
        pytest.param(None, id="a-completion"),
    ],
)
def test_a_submission_id_is_bound_to_its_whole_request(
    wave: Wave, study_key: Any, amira: APIClient, other: dict[str, Any] | None
) -> None:
    # given
    submission_id = str(uuid.uuid4())
    assert post_page(amira, wave, "family", FAMILY, submission_id=submission_id).status_code == 200
    post_page(amira, wave, "work", WORK)
    # when the id comes back with another request
    if other is None:
        response = amira.post(complete_url(wave), {"submission_id": submission_id}, format="json")
    else:
        response = amira.post(answers_url(wave), {**other, "submission_id": submission_id}, format="json")
    # then
    assert (response.status_code, response.json()["code"]) == (409, "submission_id_reused")
    assert (Submission.objects.count(), Response.objects.get().status) == (2, "in_progress")


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(page_body("work", WORK), id="another-section"),
        pytest.param(page_body("family", FAMILY, language="en"), id="another-language"),
        pytest.param({**page_body("family", FAMILY), "complete": True}, id="now-completing"),
        pytest.param(None, id="a-completion"),
    ],
)
def test_after_sealing_a_submission_id_is_still_bound_to_its_request_without_its_answers(
    wave: Wave, study_key: Any, amira: APIClient, other: dict[str, Any] | None
) -> None:
    # given a sealed response, whose page digests were dropped
    submission_id = str(uuid.uuid4())
    first = post_page(amira, wave, "family", FAMILY, submission_id=submission_id)
    post_page(amira, wave, "work", WORK)
    assert post_complete(amira, wave).status_code == 200
    assert Submission.objects.get(submission_id=submission_id).body_digest == ""
    # when the first page's id comes back with another request
    if other is None:
        response = amira.post(complete_url(wave), {"submission_id": submission_id}, format="json")
    else:
        response = amira.post(answers_url(wave), {**other, "submission_id": submission_id}, format="json")
    # then it is refused; the same request, even with other answers, gets its first result (after sealing
    # nothing is kept that answers could be compared with, and the sealed response does not change)
    assert (response.status_code, response.json()["code"]) == (409, "submission_id_reused")
    same = post_page(amira, wave, "family", {"Q1": "2", "Q49": 10}, submission_id=submission_id)
    assert (same.status_code, same.json()) == (200, {**first.json(), "replayed": True})
    assert Submission.objects.count() == 3


def test_a_completing_page_keeps_no_digest_of_its_answers_and_its_retry_still_replays(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given the last page, sent with "complete"
    post_page(amira, wave, "family", FAMILY)
    submission_id = str(uuid.uuid4())
    body = {**page_body("work", WORK, submission_id=submission_id), "complete": True}
    first = amira.post(answers_url(wave), body, format="json")
    assert first.json()["status"] == "completed"
    # when it is retried, and then sent again as a page that does not complete
    retry = amira.post(answers_url(wave), body, format="json")
    not_completing = post_page(amira, wave, "work", WORK, submission_id=submission_id)
    # then
    assert Submission.objects.get(submission_id=submission_id).body_digest == ""
    assert (retry.status_code, retry.json()) == (200, {**first.json(), "replayed": True})
    assert (not_completing.status_code, not_completing.json()["code"]) == (409, "submission_id_reused")


def test_a_page_with_another_participants_submission_id_is_a_conflict(
    wave: Wave, study_key: Any, amira: APIClient, bashir: APIClient, bashir_participant: Participant
) -> None:
    # given amira's phone sent a page
    submission_id = str(uuid.uuid4())
    assert (
        post_page(amira, wave, "family", FAMILY, submission_id=submission_id, language="en").status_code
        == 200
    )
    # when bashir's phone sends the same page with the same id
    response = post_page(bashir, wave, "family", FAMILY, submission_id=submission_id, language="en")
    # then
    assert (response.status_code, response.json().get("code")) == (409, "submission_id_reused")


def test_a_completion_with_another_participants_submission_id_does_not_return_their_result(
    wave: Wave, study_key: Any, amira: APIClient, bashir: APIClient, bashir_participant: Participant
) -> None:
    # given amira completed her wave
    submission_id = str(uuid.uuid4())
    post_page(amira, wave, "family", FAMILY)
    post_page(amira, wave, "work", WORK)
    assert post_complete(amira, wave, submission_id=submission_id).status_code == 200
    post_page(bashir, wave, "family", FAMILY)
    post_page(bashir, wave, "work", WORK)
    # when bashir completes his with the same id
    response = post_complete(bashir, wave, submission_id=submission_id)
    # then he is not told amira's response id, and his own response is not silently left unfinished
    assert (response.status_code, response.json().get("code")) == (409, "submission_id_reused")
    assert Response.objects.get(participant=bashir_participant).status == "in_progress"


# --- the same request arriving many times at once -------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_copies_of_a_page_at_once_store_one_submission_and_one_response(
    wave: Wave, study_key: Any, amira_participant: Participant
) -> None:
    # given twenty copies of one page request, each on its own connection
    token = token_for(amira_participant)
    body = page_body("family", FAMILY)

    def send() -> Any:
        return bearer_client(token).post(answers_url(wave), body, format="json")

    # when they arrive together
    responses = run_together(20, send)
    # then
    assert [getattr(response, "status_code", response) for response in responses] == [200] * 20
    bodies = [response.json() for response in responses]
    assert sorted(body["replayed"] for body in bodies) == [False] + [True] * 19
    assert all(_without_replayed(body) == _without_replayed(bodies[0]) for body in bodies)
    assert (Submission.objects.count(), Response.objects.count()) == (1, 1)
    assert bodies[0]["response_id"] == Response.objects.get().pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_copies_of_a_completion_at_once_seal_one_response(
    wave: Wave, study_key: Any, amira_participant: Participant
) -> None:
    # given both pages are in
    token = token_for(amira_participant)
    phone = bearer_client(token)
    assert post_page(phone, wave, "family", FAMILY).status_code == 200
    assert post_page(phone, wave, "work", WORK).status_code == 200
    body = {"submission_id": str(uuid.uuid4())}

    def send() -> Any:
        return bearer_client(token).post(complete_url(wave), body, format="json")

    # when twenty copies of the completion arrive together
    responses = run_together(20, send)
    # then
    assert [getattr(response, "status_code", response) for response in responses] == [200] * 20
    bodies = [response.json() for response in responses]
    assert sorted(body["replayed"] for body in bodies) == [False] + [True] * 19
    assert all(_without_replayed(body) == _without_replayed(bodies[0]) for body in bodies)
    assert list(Response.objects.values_list("status", flat=True)) == ["completed"]
    assert list(Submission.objects.filter(kind="complete").values_list("submission_id", flat=True)) == [
        uuid.UUID(body["submission_id"])
    ]
    assert Submission.objects.count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_first_pages_from_many_phones_at_once_share_one_response(
    wave: Wave, study_key: Any, amira_participant: Participant
) -> None:
    # given ten phones, each with its own submission id
    tokens = [token_for(amira_participant) for _ in range(10)]
    turn = iter(range(10))

    def send() -> Any:
        index = next(turn)
        return bearer_client(tokens[index]).post(
            answers_url(wave), page_body("family", FAMILY), format="json"
        )

    # when their first pages arrive together
    responses = run_together(10, send)
    # then
    assert [getattr(response, "status_code", response) for response in responses] == [200] * 10
    assert {response.json()["replayed"] for response in responses} == {False}
    assert (Response.objects.count(), Submission.objects.count()) == (1, 10)


@pytest.mark.parametrize("submission_id", [1, 5, True, 3.0, None, ["0b9f1e9e-7c4a-4c55-9a51-8d0f4b3c2a10"]])
def test_a_submission_id_that_is_not_a_uuid_string_is_a_field_error(
    wave: Wave, study_key: Any, amira: APIClient, submission_id: Any
) -> None:
    # when a phone sends a number (which would otherwise read as the uuid 00000000-…-000000000001) or the like
    page = amira.post(
        answers_url(wave), {**page_body("family", FAMILY), "submission_id": submission_id}, format="json"
    )
    done = amira.post(complete_url(wave), {"submission_id": submission_id}, format="json")
    # then both name the field, and nothing is stored
    assert [(reply.status_code, list(reply.json())) for reply in (page, done)] == [
        (400, ["submission_id"]),
        (400, ["submission_id"]),
    ]
    assert (Response.objects.count(), Submission.objects.count()) == (0, 0)
