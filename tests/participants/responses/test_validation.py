"""Every page is checked against the exact questionnaire version: one error entry per problem, in the
participant's language, and a refusal (409) when the wave cannot be answered at all."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from participants.models import Participant, Response, Submission
from participants.reminders.schedules import schedules_sync
from participants.services import register
from surveys import services
from surveys.models import QuestionnaireVersion, Study, Wave
from tests.participants.responses.conftest import (
    ARRIVED_CONSTRAINT_MESSAGE,
    STORED_ABOUT,
    VALID_ABOUT,
    answer_errors,
    answer_fully,
    answers_url,
    post_complete,
    post_page,
)
from translations import messages

REQUIRED_AR = "يرجى الإجابة على هذا السؤال."
INVALID_AR = "هذه الإجابة غير صالحة."
assert messages.message("required", "ar") == REQUIRED_AR
assert messages.message("invalid", "ar") == INVALID_AR


# --- one wrong answer at a time, on the rich questionnaire's page "about" ---------------------------------


WRONG_ANSWERS = [
    # single choice ORIGIN: codes 1, 2, 3; don't know allowed, no answer not
    pytest.param("ORIGIN", "9", "invalid_choice", id="single_choice-unknown-code"),
    pytest.param("ORIGIN", 2, "invalid_choice", id="single_choice-number-not-code"),
    pytest.param("ORIGIN", ["1"], "invalid_choice", id="single_choice-list"),
    pytest.param(
        "ORIGIN", {"special": "-2"}, "special_not_allowed", id="single_choice-no-answer-not-allowed"
    ),
    # multiple choice LANGS: codes ar, sv, en, fa; 2 to 3 of them; no answer allowed, don't know not
    pytest.param("LANGS", "ar", "invalid_type", id="multiple_choice-text-not-list"),
    pytest.param("LANGS", [1, 2], "invalid_type", id="multiple_choice-numbers"),
    pytest.param("LANGS", ["ar", "ar"], "invalid_choice", id="multiple_choice-duplicate-codes"),
    pytest.param("LANGS", ["ar", "xx"], "invalid_choice", id="multiple_choice-unknown-code"),
    pytest.param("LANGS", ["ar"], "too_few_choices", id="multiple_choice-too-few"),
    pytest.param("LANGS", ["ar", "sv", "en", "fa"], "too_many_choices", id="multiple_choice-too-many"),
    pytest.param(
        "LANGS", {"special": "-1"}, "special_not_allowed", id="multiple_choice-dont-know-not-allowed"
    ),
    # rating TRUST: 0 to 10
    pytest.param("TRUST", 11, "out_of_range", id="rating-above-scale"),
    pytest.param("TRUST", -1, "out_of_range", id="rating-below-scale"),
    pytest.param("TRUST", 7.5, "invalid_type", id="rating-fraction"),
    pytest.param("TRUST", "high", "invalid_type", id="rating-text"),
    pytest.param("TRUST", True, "invalid_type", id="rating-boolean"),
    pytest.param("TRUST", {"special": "-3"}, "special_not_allowed", id="rating-unknown-special-code"),
    pytest.param(
        "TRUST", {"special": "-1", "note": "x"}, "special_not_allowed", id="rating-special-extra-key"
    ),
    # integer CHILDREN: 0 to 20, no special answers
    pytest.param("CHILDREN", 21, "out_of_range", id="integer-above-max"),
    pytest.param("CHILDREN", -1, "out_of_range", id="integer-below-min"),
    pytest.param("CHILDREN", 2.5, "invalid_type", id="integer-fraction"),
    pytest.param("CHILDREN", "two", "invalid_type", id="integer-text"),
    pytest.param("CHILDREN", "1_0", "invalid_type", id="integer-text-with-underscore"),
    pytest.param("CHILDREN", "+-1", "invalid_type", id="integer-text-two-signs"),
    pytest.param("CHILDREN", {"special": "-1"}, "special_not_allowed", id="integer-dont-know-not-allowed"),
    # decimal INCOME: 0 to 1000000
    pytest.param("INCOME", "-0.01", "out_of_range", id="decimal-below-min"),
    pytest.param("INCOME", 1000000.5, "out_of_range", id="decimal-above-max"),
    pytest.param("INCOME", "NaN", "invalid_type", id="decimal-nan"),
    pytest.param("INCOME", True, "invalid_type", id="decimal-boolean"),
    pytest.param("INCOME", "1" * 41, "invalid_type", id="decimal-text-over-40-characters"),
    pytest.param("INCOME", "1_000.5", "invalid_type", id="decimal-text-with-underscore"),
    pytest.param("INCOME", "0x10", "invalid_type", id="decimal-hex"),
    pytest.param("INCOME", "1e-50", "invalid_type", id="decimal-more-than-40-places"),
    pytest.param(
        "INCOME",
        "lots",
        "invalid_type",
        id="decimal-not-a-number",
    ),  # fmt: skip
    pytest.param(
        "INCOME",
        [1],
        "invalid_type",
        id="decimal-list",
    ),  # fmt: skip
    # text HOPES: at most 40 characters
    pytest.param("HOPES", "x" * 41, "too_long", id="text-too-long"),
    pytest.param("HOPES", 42, "invalid_type", id="text-number"),
    # date ARRIVED
    pytest.param(
        "ARRIVED",
        "2020-02-30",
        "invalid_type",
        id="date-no-such-day",
    ),  # fmt: skip
    pytest.param(
        "ARRIVED",
        "17/05/2020",
        "invalid_type",
        id="date-wrong-format",
    ),  # fmt: skip
    pytest.param(
        "ARRIVED",
        20200517,
        "invalid_type",
        id="date-number",
    ),  # fmt: skip
    # yes/no RELIGIOUS
    pytest.param("RELIGIOUS", "maybe", "invalid_choice", id="yes_no-other-text"),
    pytest.param("RELIGIOUS", True, "invalid_choice", id="yes_no-boolean"),
    pytest.param("RELIGIOUS", {"special": "-1"}, "special_not_allowed", id="yes_no-dont-know-not-allowed"),
    # note INTRO: takes no answer at all
    pytest.param("INTRO", "read it", "not_answerable", id="note-answered"),
    pytest.param("INTRO", {"special": "-1"}, "special_not_allowed", id="note-special-answer"),
    # any question: a dict is only ever a special answer
    pytest.param(
        "ORIGIN",
        {"code": "1"},
        "special_not_allowed",
        id="dict-without-special",
    ),  # fmt: skip
    pytest.param(
        "ORIGIN",
        {"special": ["-1"]},
        "special_not_allowed",
        id="special-code-is-a-list",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("variable", "value", "code"), WRONG_ANSWERS)
def test_a_wrong_answer_is_refused_with_its_variable_code_and_an_arabic_message(
    rich_wave: Wave, study_key: Any, amira: APIClient, variable: str, value: Any, code: str
) -> None:
    # given an otherwise valid page with one wrong answer
    # when amira (Arabic) submits it
    response = post_page(amira, rich_wave, "about", {**VALID_ABOUT, variable: value})
    # then exactly that answer is refused, and nothing is stored
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_answers"
    assert [
        {"variable": error["variable"], "code": error["code"], "message": error["message"]}
        for error in body["details"]["errors"]
    ] == [{"variable": variable, "code": code, "message": INVALID_AR}]
    assert (Submission.objects.count(), Response.objects.count()) == (0, 0)


def test_a_valid_page_of_every_question_type_is_kept_in_normalised_form(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_page(amira, rich_wave, "about", {**VALID_ABOUT, "HOPES": "  a quiet life \n"})
    # then
    assert response.status_code == 200, response.content
    assert (response.json()["sections_submitted"], response.json()["next_section"]) == (["about"], "faith")
    assert amira.get(answers_url(rich_wave)).json()["answers"] == STORED_ABOUT


def test_special_answers_are_accepted_exactly_where_the_question_allows_them(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given ORIGIN allows don't know, LANGS no answer, TRUST both
    specials = {"ORIGIN": {"special": "-1"}, "LANGS": {"special": "-2"}, "TRUST": {"special": "-2"}}
    # when
    response = post_page(amira, rich_wave, "about", {**VALID_ABOUT, **specials})
    # then
    assert response.status_code == 200, response.content
    assert amira.get(answers_url(rich_wave)).json()["answers"] == {**STORED_ABOUT, **specials}


def test_numbers_sent_as_text_are_stored_as_numbers(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_page(
        amira, rich_wave, "about", {**VALID_ABOUT, "TRUST": "7", "CHILDREN": "0", "INCOME": 99.5}
    )
    # then
    assert response.status_code == 200, response.content
    stored = amira.get(answers_url(rich_wave)).json()["answers"]
    assert (stored["TRUST"], stored["CHILDREN"], stored["INCOME"]) == (7, 0, "99.5")


def test_required_questions_left_out_are_each_listed_with_the_arabic_required_message(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when amira answers only the first question; an empty text and an empty list count as no answer
    response = post_page(amira, rich_wave, "about", {"ORIGIN": "1", "HOPES": "", "LANGS": []})
    # then every other required question is listed, in questionnaire order, in Arabic
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_answers"
    assert [
        (error["variable"], error["code"], error["message"]) for error in response.json()["details"]["errors"]
    ] == [
        (variable, "required", REQUIRED_AR)
        for variable in ("LANGS", "TRUST", "CHILDREN", "INCOME", "HOPES", "ARRIVED", "RELIGIOUS")
    ]


def test_whitespace_only_text_does_not_answer_a_required_question(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_page(amira, rich_wave, "about", {**VALID_ABOUT, "HOPES": "   \n "})
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("HOPES", "required")]


def test_the_constraint_message_is_the_questions_own_translation_in_the_participants_language(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given ARRIVED has the constraint ". <= today()"
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    # when
    response = post_page(amira, rich_wave, "about", {**VALID_ABOUT, "ARRIVED": tomorrow})
    # then
    assert response.status_code == 400
    assert [
        (error["variable"], error["code"], error["message"]) for error in response.json()["details"]["errors"]
    ] == [("ARRIVED", "constraint", ARRIVED_CONSTRAINT_MESSAGE["ar"])]


def test_messages_follow_the_language_the_page_is_answered_in(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given amira answers this page in Swedish
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    answers = {**VALID_ABOUT, "ARRIVED": tomorrow, "TRUST": 99}
    del answers["HOPES"]
    # when
    response = post_page(amira, rich_wave, "about", answers, language="sv")
    # then
    assert [
        (error["variable"], error["code"], error["message"]) for error in response.json()["details"]["errors"]
    ] == [
        ("TRUST", "out_of_range", "Svaret är inte giltigt."),
        ("HOPES", "required", "Svara på frågan."),
        ("ARRIVED", "constraint", ARRIVED_CONSTRAINT_MESSAGE["sv"]),
    ]


def test_a_date_today_meets_the_not_in_the_future_constraint(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_page(
        amira, rich_wave, "about", {**VALID_ABOUT, "ARRIVED": timezone.localdate().isoformat()}
    )
    # then
    assert response.status_code == 200, response.content


# --- relevance and sections, on the small published questionnaire ---------------------------------------


def test_hours_are_required_when_employed(wave: Wave, study_key: Any, amira: APIClient) -> None:
    # when
    response = post_page(amira, wave, "work", {"EMPLOYED": "yes"})
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("HOURS", "required")]
    assert response.json()["details"]["errors"][0]["message"] == REQUIRED_AR


def test_hours_are_not_required_when_not_employed(wave: Wave, study_key: Any, amira: APIClient) -> None:
    # when
    response = post_page(amira, wave, "work", {"EMPLOYED": "no"})
    # then
    assert response.status_code == 200, response.content
    assert amira.get(answers_url(wave)).json()["answers"] == {"EMPLOYED": "no"}


def test_hours_given_when_not_employed_are_refused_as_not_relevant(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_page(amira, wave, "work", {"EMPLOYED": "no", "HOURS": 20})
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("HOURS", "not_relevant")]


@pytest.mark.parametrize(
    ("hours", "code"), [(0, "out_of_range"), (81, "out_of_range"), ("many", "invalid_type")]
)
def test_hours_outside_1_to_80_are_refused(
    wave: Wave, study_key: Any, amira: APIClient, hours: Any, code: str
) -> None:
    # when
    response = post_page(amira, wave, "work", {"EMPLOYED": "yes", "HOURS": hours})
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("HOURS", code)]


def test_the_relevance_of_a_later_page_is_judged_with_the_earlier_pages_answers(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given amira said on page "about" that she is not religious
    assert post_page(amira, rich_wave, "about", {**VALID_ABOUT, "RELIGIOUS": "no"}).status_code == 200
    # when she still answers PRAYERS on page "faith"
    refused = post_page(amira, rich_wave, "faith", {"PRAYERS": 5})
    accepted = post_page(amira, rich_wave, "faith", {})
    # then
    assert answer_errors(refused) == [("PRAYERS", "not_relevant")]
    assert accepted.status_code == 200, accepted.content


def test_an_answer_made_irrelevant_by_a_changed_earlier_page_is_listed_at_completion_until_its_page_is_resent(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given amira answered PRAYERS, then went back and said she is not religious
    assert post_page(amira, rich_wave, "about", VALID_ABOUT).status_code == 200
    assert post_page(amira, rich_wave, "faith", {"PRAYERS": 5}).status_code == 200
    assert post_page(amira, rich_wave, "about", {**VALID_ABOUT, "RELIGIOUS": "no"}).status_code == 200
    # when she completes, and again after sending page "faith" once more
    refused = post_complete(amira, rich_wave)
    resent = post_page(amira, rich_wave, "faith", {})
    done = post_complete(amira, rich_wave)
    # then
    assert answer_errors(refused) == [("PRAYERS", "not_relevant")]
    assert (resent.status_code, done.status_code) == (200, 200)


def test_answers_to_questions_of_another_section_are_refused_as_not_in_section(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4, "HOURS": 20, "NOPE": "x"})
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("HOURS", "not_in_section"), ("NOPE", "not_in_section")]


def test_an_unknown_section_is_refused_naming_the_field(wave: Wave, study_key: Any, amira: APIClient) -> None:
    # when
    response = post_page(amira, wave, "hobbies", {"Q1": "1"})
    # then
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid", "section")
    assert Submission.objects.count() == 0


def test_completion_with_a_page_missing_lists_its_required_questions(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given only page "family" is answered
    assert post_page(amira, wave, "family", {"Q1": "2", "Q49": 9}).status_code == 200
    # when
    response = post_complete(amira, wave)
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_answers"
    assert [
        (error["variable"], error["code"], error["message"]) for error in response.json()["details"]["errors"]
    ] == [("EMPLOYED", "required", REQUIRED_AR)]
    assert Response.objects.get().status == "in_progress"


def test_completion_lists_questions_made_required_by_relevance(
    rich_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given amira is religious and skipped page "faith"
    assert post_page(amira, rich_wave, "about", VALID_ABOUT).status_code == 200
    # when
    response = post_complete(amira, rich_wave)
    # then
    assert response.status_code == 400
    assert answer_errors(response) == [("PRAYERS", "required")]


# --- waves that cannot be answered ----------------------------------------------------------------------


def test_a_wave_asking_a_draft_version_cannot_be_answered(
    study: Study, wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given the wave points at a draft (only possible behind the services' back)
    draft = services.version_new_draft(questionnaire=wave.questionnaire_version.questionnaire)
    Wave.objects.filter(pk=wave.pk).update(questionnaire_version=draft)
    # when
    response = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4})
    # then
    assert (response.status_code, response.json()["code"]) == (409, "not_answerable")
    assert Response.objects.count() == 0


def test_a_wave_without_a_questionnaire_cannot_be_answered(
    study: Study, wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given
    empty = services.wave_create(
        study=study, key="later", name={"en": "Later", "sv": "Senare", "ar": "لاحقا"}
    )
    # when
    response = post_page(amira, empty, "family", {"Q1": "1", "Q49": 4})
    # then
    assert (response.status_code, response.json()["code"]) == (409, "not_answerable")


def test_a_wave_cannot_be_answered_before_a_study_key_is_registered(
    wave: Wave, amira: APIClient, request: pytest.FixtureRequest
) -> None:
    # when
    questionnaire = amira.get(f"/api/v1/me/waves/{wave.key}/questionnaire/")
    page = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4})
    done = post_complete(amira, wave)
    # then the phone is told before it shows a single question
    assert (questionnaire.status_code, questionnaire.json()["code"]) == (409, "no_study_key")
    assert (page.status_code, page.json()["code"]) == (409, "no_study_key")
    assert (done.status_code, done.json()["code"]) == (409, "no_study_key")
    assert (Response.objects.count(), Submission.objects.count()) == (0, 0)
    # and once a key is registered, the questionnaire is served
    request.getfixturevalue("study_key")
    assert amira.get(f"/api/v1/me/waves/{wave.key}/questionnaire/").status_code == 200


def test_a_wave_cannot_be_answered_before_its_window_opens(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given amira was enrolled two days ago; the wave opens at enrollment
    # when she answers as if five days ago
    with time_machine.travel(timezone.now() - datetime.timedelta(days=5)):
        response = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4})
    # then
    assert (response.status_code, response.json()["code"]) == (409, "wave_not_open")
    assert Response.objects.count() == 0


def test_a_wave_anchored_on_arrival_cannot_be_answered_before_the_arrival_date_is_known(
    study: Study,
    published: QuestionnaireVersion,
    study_key: Any,
    amira_participant: Participant,
    amira: APIClient,
) -> None:
    # given
    arrival = services.wave_create(
        study=study, key="arrival", name={"en": "Arrival", "sv": "Ankomst", "ar": "الوصول"},
        questionnaire_version=published, anchor="arrival", window_days=30,
    )  # fmt: skip
    schedules_sync(participant=amira_participant)
    assert amira_participant.arrived_on is None
    # when
    response = post_page(amira, arrival, "family", {"Q1": "1", "Q49": 4})
    # then
    assert (response.status_code, response.json()["code"]) == (409, "wave_not_open")


def test_a_completed_wave_refuses_more_pages_and_another_completion(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given
    assert [response.status_code for response in answer_fully(amira, wave)] == [200, 200, 200]
    # when
    page = post_page(amira, wave, "family", {"Q1": "2", "Q49": 1})
    again = post_complete(amira, wave)
    # then
    assert (page.status_code, page.json()["code"]) == (409, "not_answerable")
    assert (again.status_code, again.json()["code"]) == (409, "not_answerable")
    assert Submission.objects.count() == 3


def test_a_withdrawn_participant_can_no_longer_answer(
    wave: Wave, study_key: Any, amira_participant: Participant, fatima_user: User, amira: APIClient
) -> None:
    # given
    register.participant_withdraw(participant=amira_participant, scope="stop_contact", by=fatima_user)
    # when
    response = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4})
    # then
    assert (response.status_code, response.json()["code"]) == (409, "not_answerable")


def test_an_unknown_wave_is_not_found(wave: Wave, study_key: Any, amira: APIClient) -> None:
    # when
    response = amira.post(
        "/api/v1/me/waves/no-such-wave/answers/",
        {"submission_id": "6f1c1c61-9a0e-4a43-9f53-4d1f4f1a3c10", "section": "family", "answers": {}},
        format="json",
    )
    # then
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_variable_name_longer_than_any_question_has_is_refused_without_echoing_it(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given a page whose only answer is keyed by 100,000 characters
    long_name = "K" * 100_000
    # when
    response = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4, long_name: 1})
    # then the field is named, the reply is short and nothing is stored
    assert (response.status_code, list(response.json())) == (400, ["answers"])
    assert len(response.content) < 500
    assert Response.objects.count() == 0
    # while a name of the longest possible length that is no question is reported, cut as it was sent
    unknown = post_page(amira, wave, "family", {"Q1": "1", "Q49": 4, "K" * 64: 1})
    assert answer_errors(unknown) == [("K" * 64, "not_in_section")]


@pytest.mark.parametrize(
    ("name", "sent", "stored"),
    [
        pytest.param("CHILDREN", "٢", 2, id="integer-in-arabic-indic-digits"),
        pytest.param("CHILDREN", " 3 ", 3, id="integer-text-with-spaces"),
        pytest.param("INCOME", "1e5", "100000", id="decimal-exponent-written-out"),
        pytest.param("INCOME", 1e-8, "0.00000001", id="decimal-small-float-written-out"),
        pytest.param("INCOME", "-0", "0", id="decimal-zero-without-sign"),
        pytest.param("INCOME", "1500.50", "1500.50", id="decimal-kept-as-sent"),
    ],
)
def test_numbers_are_stored_in_one_plain_form(
    rich_wave: Wave, study_key: Any, amira: APIClient, name: str, sent: Any, stored: Any
) -> None:
    # when
    response = post_page(amira, rich_wave, "about", {**VALID_ABOUT, name: sent})
    # then
    assert response.status_code == 200, response.content[:300]
    assert amira.get(answers_url(rich_wave)).json()["answers"][name] == stored
