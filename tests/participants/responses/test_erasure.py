"""Erasure deletes every response of the participant, sealed or draft, and says so in the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from participants.models import AuditEntry, Participant, Response, Submission
from participants.responses import services as response_services
from participants.responses.opening import open_response
from participants.services import register
from surveys.models import Wave
from tests.participants.responses.conftest import VALID_ABOUT, answer_fully, answers_url, post_page


def withdraw_url(participant: Participant) -> str:
    return f"/api/v1/participants/{participant.pseudonym}/withdraw/"


def _responses_deleted(participant: Participant) -> list[tuple[int | None, str, dict[str, Any]]]:
    return [
        (entry.actor_id, entry.actor_participant, entry.details)
        for entry in AuditEntry.objects.filter(
            action=AuditEntry.Action.RESPONSES_DELETED, participant=participant.pseudonym
        )
    ]


def test_erasure_by_field_staff_deletes_all_of_the_participants_responses_sealed_and_draft(
    wave: Wave, rich_wave: Wave, study_key: Any, research_keypair: Any, fatima: APIClient, fatima_user: User,
    amira_participant: Participant, amira: APIClient, bashir_participant: Participant, bashir: APIClient,
) -> None:  # fmt: skip
    # given amira has a sealed response and a draft, bashir a sealed response
    assert [response.status_code for response in answer_fully(amira, wave)] == [200, 200, 200]
    assert post_page(amira, rich_wave, "about", VALID_ABOUT).status_code == 200
    assert [response.status_code for response in answer_fully(bashir, wave)] == [200, 200, 200]
    amiras = list(Response.objects.filter(participant=amira_participant).values_list("pk", flat=True))
    assert len(amiras) == 2
    assert Submission.objects.filter(response__in=amiras).count() == 4
    # when fatima records amira's withdrawal with erasure
    response = fatima.post(withdraw_url(amira_participant), {"scope": "erase"}, format="json")
    # then
    assert response.status_code == 200, response.content
    assert Response.objects.filter(participant=amira_participant).count() == 0
    assert Submission.objects.filter(response__in=amiras).count() == 0
    assert _responses_deleted(amira_participant) == [(fatima_user.pk, "", {"responses": 2})]
    # and bashir's response is untouched
    bashirs = Response.objects.select_related("participant__study", "wave").get(
        participant=bashir_participant
    )
    assert (bashirs.status, Submission.objects.filter(response=bashirs).count()) == ("completed", 3)
    assert open_response(bashirs, private_key=research_keypair[0])["answers"] == {
        "Q1": "1", "Q49": 4, "EMPLOYED": "yes", "HOURS": 20,
    }  # fmt: skip
    assert _responses_deleted(bashir_participant) == []


def test_erasure_of_a_participant_who_never_answered_records_zero_responses(
    wave: Wave, study_key: Any, fatima: APIClient, fatima_user: User, amira_participant: Participant
) -> None:
    # when
    response = fatima.post(withdraw_url(amira_participant), {"scope": "erase"}, format="json")
    # then
    assert response.status_code == 200
    assert _responses_deleted(amira_participant) == [(fatima_user.pk, "", {"responses": 0})]


def test_a_withdrawal_without_erasure_keeps_the_responses(
    wave: Wave, study_key: Any, fatima: APIClient, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    answer_fully(amira, wave)
    # when
    response = fatima.post(withdraw_url(amira_participant), {"scope": "stop_contact"}, format="json")
    # then
    assert response.status_code == 200
    assert list(Response.objects.filter(participant=amira_participant).values_list("status", flat=True)) == [
        "completed"
    ]
    assert _responses_deleted(amira_participant) == []


def test_field_staff_of_another_site_cannot_erase_the_responses(
    wave: Wave, study_key: Any, gustav: APIClient, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    answer_fully(amira, wave)
    # when
    response = gustav.post(withdraw_url(amira_participant), {"scope": "erase"}, format="json")
    # then
    assert response.status_code == 404
    assert Response.objects.filter(participant=amira_participant).count() == 1
    assert _responses_deleted(amira_participant) == []


def test_a_participant_erasing_herself_deletes_her_responses_and_her_phone_can_no_longer_answer(
    wave: Wave, rich_wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    answer_fully(amira, wave)
    post_page(amira, rich_wave, "about", VALID_ABOUT)
    # when
    response = amira.post("/api/v1/me/withdraw/", {"scope": "erase"}, format="json")
    # then
    assert response.status_code == 204
    assert Response.objects.filter(participant=amira_participant).count() == 0
    assert [details for _, _, details in _responses_deleted(amira_participant)] == [{"responses": 2}]
    assert amira.get(answers_url(wave)).status_code == 401


def test_an_erasure_between_the_check_and_the_write_of_a_page_leaves_no_response(
    wave: Wave, study_key: Any, fatima_user: User, amira_participant: Participant, amira: APIClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # given an erasure lands after the request was authenticated (with the participant as she was then)
    # and before it takes the participant's row lock
    real_idempotent = response_services._idempotent
    erased: list[bool] = []

    def erase_then_write(*args: Any, **kwargs: Any) -> Any:
        if not erased:
            register.participant_withdraw(participant=amira_participant, scope="erase", by=fatima_user)
            erased.append(True)
        return real_idempotent(*args, **kwargs)

    monkeypatch.setattr(response_services, "_idempotent", erase_then_write)
    # when
    response = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4})
    # then nothing of hers is kept
    assert Participant.objects.get(pk=amira_participant.pk).erased_at is not None
    assert (response.status_code, Response.objects.filter(participant=amira_participant).count()) == (409, 0)
