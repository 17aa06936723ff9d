"""Unfinished response drafts under the server key ring: rotated with the contact details, so that the old key
can be dropped without losing the answers of anyone in the middle of a wave."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from participants.crypto.keyring import DecryptionError, KeyRing, generate_key
from participants.models import AuditEntry, Participant, Response
from participants.responses import services as response_services
from participants.responses.opening import open_response
from participants.services import contacts
from surveys.models import Wave
from tests.participants.responses.conftest import (
    answer_fully,
    answers_url,
    post_complete,
    post_page,
)

OLD_SPEC = settings.FIELD_ENCRYPTION_KEYS  # "test2:...,test1:..." in backend/settings/test.py
NEW_KEY = f"test3:{generate_key()}"
BOTH_SPEC = f"{NEW_KEY},{OLD_SPEC}"

FAMILY = {"Q1": "1", "Q49": 4}
WORK = {"EMPLOYED": "yes", "HOURS": 20}


def _rotate() -> str:
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)
    return out.getvalue().strip()


def _draft_of(participant: Participant, wave: Wave) -> str:
    return Response.objects.get(participant=participant, wave=wave).draft_encrypted


def test_after_rotation_the_old_key_can_be_dropped_and_the_draft_is_continued_and_completed(
    wave: Wave, study_key: Any, research_keypair: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given amira answered the first page while the old key was the newest
    assert post_page(amira, wave, "family", FAMILY).status_code == 200
    assert _draft_of(amira_participant, wave).startswith("v1.test2.")

    # when a new key is added and the keys are rotated
    with override_settings(FIELD_ENCRYPTION_KEYS=BOTH_SPEC):
        output = _rotate()

    # then the draft is under the new key
    assert output == "Re-encrypted under key 'test3': 1 phone, 1 name, 0 email, 0 withdrawal_reason, 1 draft."
    assert _draft_of(amira_participant, wave).startswith("v1.test3.")

    # and with only the new key left, amira continues where she was and completes the wave
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_KEY):
        fetched = amira.get(answers_url(wave))
        page = post_page(amira, wave, "work", WORK)
        done = post_complete(amira, wave)

    assert fetched.status_code == 200
    assert fetched.json() == {
        "status": "in_progress", "answers": FAMILY, "sections_submitted": ["family"], "language": "ar",
    }  # fmt: skip
    assert (page.status_code, done.status_code) == (200, 200)
    response = Response.objects.get(participant=amira_participant, wave=wave)
    assert (response.status, response.draft_encrypted) == (Response.Status.COMPLETED, "")
    assert open_response(response, private_key=research_keypair[0])["answers"] == {**FAMILY, **WORK}


def test_without_rotation_a_draft_under_the_dropped_key_cannot_be_read(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    assert post_page(amira, wave, "family", FAMILY).status_code == 200

    # when the old key is dropped without rotating
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_KEY):
        fetched = amira.get(answers_url(wave))
        done = post_complete(amira, wave)
        response = Response.objects.select_related("participant").get(participant=amira_participant)
        with pytest.raises(DecryptionError):
            response_services.draft_answers(response)

    # then
    assert (fetched.status_code, done.status_code) == (500, 500)


def test_a_second_rotation_re_encrypts_no_draft(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)

    with override_settings(FIELD_ENCRYPTION_KEYS=BOTH_SPEC):
        first = _rotate()
        rotated = _draft_of(amira_participant, wave)
        # when
        second = _rotate()

    # then
    assert first.endswith(", 1 draft.")
    assert second == "Re-encrypted under key 'test3': 0 phone, 0 name, 0 email, 0 withdrawal_reason, 0 draft."
    assert _draft_of(amira_participant, wave) == rotated
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.KEYS_ROTATED).order_by("pk")
    assert [entry.details["draft"] for entry in entries] == [1, 0]


def test_a_completed_response_is_left_as_it_was(
    wave: Wave, study_key: Any, bashir_participant: Participant, bashir: APIClient
) -> None:
    # given bashir completed the wave under the old key
    assert [result.status_code for result in answer_fully(bashir, wave)] == [200, 200, 200]
    before = Response.objects.filter(participant=bashir_participant).values().get()

    # when
    with override_settings(FIELD_ENCRYPTION_KEYS=BOTH_SPEC):
        output = _rotate()

    # then
    assert output.endswith(", 0 draft.")
    assert Response.objects.filter(participant=bashir_participant).values().get() == before
    assert before["draft_encrypted"] == ""


def test_drafts_are_rotated_batch_by_batch(
    wave: Wave,
    study_key: Any,
    amira_participant: Participant,
    bashir_participant: Participant,
    amira: APIClient,
    bashir: APIClient,
) -> None:
    # given two unfinished responses
    post_page(amira, wave, "family", FAMILY)
    post_page(bashir, wave, "work", WORK)

    # when rotated one draft per batch
    with override_settings(FIELD_ENCRYPTION_KEYS=BOTH_SPEC):
        counts = contacts.contacts_rotate_keys(batch_size=1)

    # then
    assert counts == {"phone": 2, "name": 2, "email": 0, "withdrawal_reason": 0, "draft": 2}
    assert _draft_of(amira_participant, wave).startswith("v1.test3.")
    assert _draft_of(bashir_participant, wave).startswith("v1.test3.")
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_KEY):
        assert amira.get(answers_url(wave)).json()["answers"] == FAMILY
        assert bashir.get(answers_url(wave)).json()["answers"] == WORK


def test_a_page_submitted_while_the_draft_is_rotated_is_not_overwritten(
    wave: Wave,
    study_key: Any,
    amira_participant: Participant,
    amira: APIClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    post_page(amira, wave, "family", FAMILY)
    changed = {"Q1": "2", "Q49": 1}
    real_rotate = KeyRing.rotate

    def rotate_while_amira_answers(ring: KeyRing, token: str, *, associated_data: bytes) -> str:
        rotated = real_rotate(ring, token, associated_data=associated_data)
        if associated_data.startswith(b"participants:draft:"):
            # after the rotation read the draft, before it writes it back
            assert post_page(amira, wave, "family", changed).status_code == 200
        return rotated

    monkeypatch.setattr(KeyRing, "rotate", rotate_while_amira_answers)

    # when
    with override_settings(FIELD_ENCRYPTION_KEYS=BOTH_SPEC):
        counts = contacts.contacts_rotate_keys()
        fetched = amira.get(answers_url(wave)).json()["answers"]

    # then amira's newer page is kept (written under the new key), not the older answers
    assert counts["draft"] == 0
    assert fetched == changed
    assert _draft_of(amira_participant, wave).startswith("v1.test3.")
