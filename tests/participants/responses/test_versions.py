"""Answers are checked against, and sealed with, the exact version the participant saw: a response keeps the
version it was started on when its wave moves to a newer one, and answers given to another version are
refused (the phone says which version it showed)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from participants.models import Participant, Response, Submission
from participants.responses.opening import open_response
from surveys import services
from surveys.models import QuestionnaireVersion, Wave
from tests.participants.responses.conftest import answers_url, page_body, post_page

FAMILY = {"Q1": "2", "Q49": 6}
WORK = {"EMPLOYED": "yes", "HOURS": 40}


def _questionnaire_version(client: APIClient, wave: Wave) -> int:
    reply = client.get(f"/api/v1/me/waves/{wave.key}/questionnaire/")
    assert reply.status_code == 200, reply.content[:300]
    version_id: int = reply.json()["version_id"]
    return version_id


def _page(
    client: APIClient, wave: Wave, section: str, answers: dict[str, Any], version: int, **extra: Any
) -> Any:
    return client.post(
        answers_url(wave), {**page_body(section, answers), "version": version, **extra}, format="json"
    )


def _second_version(published: QuestionnaireVersion, by: User) -> QuestionnaireVersion:
    draft = services.version_new_draft(questionnaire=published.questionnaire)
    return services.version_publish(version=draft, by=by)


def test_a_page_names_the_version_its_phone_showed_and_is_accepted(
    wave: Wave, study_key: Any, published: QuestionnaireVersion, amira: APIClient
) -> None:
    # given
    shown = _questionnaire_version(amira, wave)
    # when
    reply = _page(amira, wave, "family", FAMILY, shown)
    # then
    assert shown == published.pk
    assert reply.status_code == 200, reply.content[:300]
    assert Response.objects.get().version_id == published.pk


def test_answers_given_to_another_version_are_refused_and_nothing_is_stored(
    wave: Wave, study_key: Any, published: QuestionnaireVersion, amira: APIClient
) -> None:
    # when
    reply = _page(amira, wave, "family", FAMILY, published.pk + 1000)
    # then
    assert reply.status_code == 409, reply.content[:300]
    assert {name: reply.json()[name] for name in ("code", "field")} == {
        "code": "wrong_version",
        "field": "version",
    }
    assert (Response.objects.count(), Submission.objects.count()) == (0, 0)


def test_a_version_that_is_not_a_number_is_a_field_error(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    reply = _page(amira, wave, "family", FAMILY, "latest")  # type: ignore[arg-type]
    # then
    assert (reply.status_code, list(reply.json())) == (400, ["version"])
    assert Response.objects.count() == 0


def test_a_started_response_keeps_its_version_when_the_wave_moves_to_a_newer_one(
    wave: Wave,
    study_key: Any,
    research_keypair: Any,
    published: QuestionnaireVersion,
    sara_user: User,
    amira_participant: Participant,
    amira: APIClient,
    bashir: APIClient,
) -> None:
    # given amira started on the first version, then the wave moved to a second one
    assert _page(amira, wave, "family", FAMILY, published.pk).status_code == 200
    newer = _second_version(published, sara_user)
    services.wave_update(wave=wave, questionnaire_version=newer)
    # when both phones fetch the questionnaire
    amiras, bashirs = _questionnaire_version(amira, wave), _questionnaire_version(bashir, wave)
    # then amira goes on with the version she started; bashir, who has not started, gets the newer one
    assert (amiras, bashirs) == (published.pk, newer.pk)
    # and answers to the other version are refused on either side
    assert _page(amira, wave, "work", WORK, newer.pk).json()["code"] == "wrong_version"
    assert _page(bashir, wave, "family", FAMILY, published.pk).json()["code"] == "wrong_version"
    # while amira completes with her version, and her sealed response says so
    last = _page(amira, wave, "work", WORK, published.pk, complete=True)
    assert last.status_code == 200, last.content[:300]
    sealed = Response.objects.select_related("participant__study", "wave").get(participant=amira_participant)
    assert sealed.version_id == published.pk
    assert open_response(sealed, private_key=research_keypair[0])["version_id"] == published.pk


def test_a_phone_that_sends_no_version_is_checked_against_the_responses_own(
    wave: Wave, study_key: Any, published: QuestionnaireVersion, sara_user: User, amira: APIClient
) -> None:
    # given amira started on the first version, then the wave moved to a second one
    assert post_page(amira, wave, "family", FAMILY).status_code == 200
    services.wave_update(wave=wave, questionnaire_version=_second_version(published, sara_user))
    # when her phone sends the next page without naming a version
    reply = post_page(amira, wave, "work", WORK)
    # then it is validated against the version the response was started on
    assert reply.status_code == 200, reply.content[:300]
    assert Response.objects.get().version_id == published.pk


def test_the_list_of_waves_names_the_version_each_participant_answers_with(
    wave: Wave,
    study_key: Any,
    published: QuestionnaireVersion,
    sara_user: User,
    amira: APIClient,
    bashir: APIClient,
) -> None:
    # given amira started on the first version, then the wave moved to a second one
    assert post_page(amira, wave, "family", FAMILY).status_code == 200
    newer = _second_version(published, sara_user)
    services.wave_update(wave=wave, questionnaire_version=newer)

    # when both phones list their waves
    def listed(client: APIClient) -> Any:
        reply = client.get("/api/v1/me/waves/")
        assert reply.status_code == 200, reply.content[:300]
        return {item["key"]: item["questionnaire_version"] for item in reply.json()}

    # then each is told the version its questionnaire endpoint serves
    assert listed(amira) == {wave.key: published.pk} == {wave.key: _questionnaire_version(amira, wave)}
    assert listed(bashir) == {wave.key: newer.pk} == {wave.key: _questionnaire_version(bashir, wave)}
