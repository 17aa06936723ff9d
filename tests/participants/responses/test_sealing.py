"""A completed response is sealed to the research key: it opens to exactly what was answered, and only for
the participant, wave, version and row it was sealed for."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from participants.crypto import sealing
from participants.models import Participant, Response
from participants.responses.opening import open_response
from surveys import services
from surveys.models import QuestionnaireVersion, Study, Wave
from tests.participants.responses.conftest import (
    STORED_ABOUT,
    VALID_ABOUT,
    answer_fully,
    post_complete,
    post_page,
)

FAITH = {"PRAYERS": 5, "STORY": "We left in spring."}
SMALL_ANSWERS = {"Q1": "1", "Q49": 4, "EMPLOYED": "yes", "HOURS": 20}


@pytest.fixture
def amiras_sealed(wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient) -> Response:
    assert [response.status_code for response in answer_fully(amira, wave)] == [200, 200, 200]
    return Response.objects.get(participant=amira_participant, wave=wave)


@pytest.fixture
def bashirs_sealed(
    wave: Wave, study_key: Any, bashir_participant: Participant, bashir: APIClient
) -> Response:
    assert [response.status_code for response in answer_fully(bashir, wave)] == [200, 200, 200]
    return Response.objects.get(participant=bashir_participant, wave=wave)


def _reloaded(response: Response) -> Response:
    return Response.objects.select_related("participant__study", "wave").get(pk=response.pk)


def test_a_completed_response_opens_to_exactly_its_answers_and_metadata(
    rich_wave: Wave, rich_version: QuestionnaireVersion, study_key: Any, research_keypair: Any,
    amira_participant: Participant, amira: APIClient,
) -> None:  # fmt: skip
    # given
    assert post_page(amira, rich_wave, "about", VALID_ABOUT).status_code == 200
    assert post_page(amira, rich_wave, "faith", FAITH).status_code == 200
    # when
    done = post_complete(amira, rich_wave)
    # then
    assert done.status_code == 200, done.content
    response = _reloaded(Response.objects.get(participant=amira_participant, wave=rich_wave))
    assert open_response(response, private_key=research_keypair[0]) == {
        "response_id": response.pk,
        "study": "panel",
        "participant": amira_participant.pseudonym,
        "wave": "baseline",
        "version_id": rich_version.pk,
        "version_digest": rich_version.content_digest,
        "language": "ar",
        "started_at": response.started_at.isoformat(),
        "completed_at": response.completed_at.isoformat(),
        "answers": {**STORED_ABOUT, **FAITH},
    }
    assert done.json()["completed_at"] == response.completed_at.isoformat()


def test_the_suite_key_fingerprint_and_size_are_recorded_with_the_sealed_response(
    amiras_sealed: Response, study_key: Any, research_keypair: Any
) -> None:
    # then
    assert (amiras_sealed.suite, amiras_sealed.study_key_id) == (sealing.DEFAULT_SUITE, study_key.pk)
    assert amiras_sealed.key_fingerprint == study_key.fingerprint == sealing.fingerprint(research_keypair[1])
    assert amiras_sealed.key_fingerprint.startswith("sha256:")
    assert amiras_sealed.sealed_size == len(bytes(amiras_sealed.sealed_payload))
    assert (amiras_sealed.status, amiras_sealed.draft_encrypted) == ("completed", "")


@pytest.mark.parametrize("position", [0, 31, 32, 100, -17, -1], ids=lambda position: f"byte-{position}")
def test_a_flipped_byte_in_the_sealed_payload_is_detected(
    amiras_sealed: Response, research_keypair: Any, position: int
) -> None:
    # given
    payload = bytearray(bytes(amiras_sealed.sealed_payload))
    payload[position] ^= 0x01
    Response.objects.filter(pk=amiras_sealed.pk).update(sealed_payload=bytes(payload))
    # when / then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(amiras_sealed), private_key=research_keypair[0])


def test_a_truncated_sealed_payload_is_detected(amiras_sealed: Response, research_keypair: Any) -> None:
    # given
    Response.objects.filter(pk=amiras_sealed.pk).update(
        sealed_payload=bytes(amiras_sealed.sealed_payload)[:40]
    )
    # when / then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(amiras_sealed), private_key=research_keypair[0])


def test_a_sealed_response_moved_to_another_participant_does_not_open(
    amiras_sealed: Response, bashir_participant: Participant, research_keypair: Any
) -> None:
    # given
    Response.objects.filter(pk=amiras_sealed.pk).update(participant_id=bashir_participant.pk)
    # when / then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(amiras_sealed), private_key=research_keypair[0])


def test_a_sealed_response_moved_to_another_wave_does_not_open(
    study: Study, published: QuestionnaireVersion, amiras_sealed: Response, research_keypair: Any
) -> None:
    # given a second wave asking the same version
    later = services.wave_create(
        study=study, key="post-arrival", name={"en": "After", "sv": "Efter", "ar": "بعد"},
        questionnaire_version=published, anchor="arrival", window_days=30,
    )  # fmt: skip
    # when
    Response.objects.filter(pk=amiras_sealed.pk).update(wave_id=later.pk)
    # then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(amiras_sealed), private_key=research_keypair[0])


def test_a_sealed_response_relabelled_with_another_version_does_not_open(
    amiras_sealed: Response, rich_version: QuestionnaireVersion, research_keypair: Any
) -> None:
    # when
    Response.objects.filter(pk=amiras_sealed.pk).update(version_id=rich_version.pk)
    # then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(amiras_sealed), private_key=research_keypair[0])


def test_a_sealed_payload_copied_into_another_response_does_not_open(
    amiras_sealed: Response, bashirs_sealed: Response, research_keypair: Any
) -> None:
    # given both open as they are
    assert (
        open_response(_reloaded(bashirs_sealed), private_key=research_keypair[0])["answers"] == SMALL_ANSWERS
    )
    # when amira's sealed bytes are copied into bashir's row
    Response.objects.filter(pk=bashirs_sealed.pk).update(sealed_payload=bytes(amiras_sealed.sealed_payload))
    # then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(bashirs_sealed), private_key=research_keypair[0])


def test_a_sealed_response_copied_to_a_new_row_of_the_same_participant_and_wave_does_not_open(
    amiras_sealed: Response, research_keypair: Any
) -> None:
    # given the row is deleted and re-inserted under a new id (the same participant, wave and version)
    original = _reloaded(amiras_sealed)
    Response.objects.filter(pk=original.pk).delete()
    copy = Response.objects.create(
        participant=original.participant, wave=original.wave, version=original.version, status="completed",
        language=original.language, started_at=original.started_at, completed_at=original.completed_at,
        sealed_payload=bytes(original.sealed_payload), study_key=original.study_key, suite=original.suite,
        key_fingerprint=original.key_fingerprint, sealed_size=original.sealed_size,
    )  # fmt: skip
    # when / then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(copy), private_key=research_keypair[0])


def test_a_sealed_response_does_not_open_with_another_private_key(amiras_sealed: Response) -> None:
    # given
    stranger, _ = sealing.generate_keypair()
    # when / then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(amiras_sealed), private_key=stranger)


def test_an_unfinished_response_has_nothing_to_open(
    wave: Wave, study_key: Any, research_keypair: Any, amira: APIClient
) -> None:
    # given
    post_page(amira, wave, "family", {"Q1": "1", "Q49": 4})
    # when / then
    with pytest.raises(sealing.SealingError):
        open_response(_reloaded(Response.objects.get()), private_key=research_keypair[0])
