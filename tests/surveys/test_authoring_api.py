"""The authoring API, through HTTP and JSON: studies, questionnaires, versions, translations and waves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from surveys import services
from surveys.models import (
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Section,
    Study,
    StudyMembership,
    Wave,
)

API = "/api/v1"


def _question_id(version: QuestionnaireVersion, variable: str) -> int:
    return version.questions.get(variable=variable).pk


def _questions_by_variable(version_detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["variable"]: q for section in version_detail["sections"] for q in section["questions"]}


# --- studies -----------------------------------------------------------------------------------------------


def test_a_study_admin_creates_a_study(sara: APIClient, sara_user: User) -> None:
    # when
    response = sara.post(
        f"{API}/studies/",
        {
            "slug": "return",
            "source_language": "sv",
            "languages": ["sv", "en", "ar"],
            "title": {"sv": "Återvändande", "en": "Return"},
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    body = response.json()
    study = Study.objects.get(slug="return")
    assert {key: value for key, value in body.items() if key != "created_at"} == {
        "id": study.pk,
        "slug": "return",
        "source_language": "sv",
        "languages": ["sv", "en", "ar"],
        "title": {"sv": "Återvändande", "en": "Return", "ar": ""},
        "introduction": {"sv": "", "en": "", "ar": ""},
    }
    assert list(study.memberships.values_list("user__username", "role")) == [("sara", "admin")]
    assert [s["slug"] for s in sara.get(f"{API}/studies/").json()] == ["return"]


def test_a_researcher_may_not_create_a_study(rita: APIClient, study: Study) -> None:
    response = rita.post(
        f"{API}/studies/",
        {"slug": "mine", "source_language": "en", "languages": ["en"], "title": {"en": "Mine"}},
        format="json",
    )

    assert response.status_code == 403
    assert list(Study.objects.values_list("slug", flat=True)) == ["panel"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"languages": ["en", "xx"]},
            400,
            {"languages": {"1": ['"xx" is not a valid choice.']}},
        ),
        (
            {"source_language": "ar", "languages": ["en", "sv"]},
            400,
            {
                "detail": "The source language must be one of the study's languages.",
                "code": "invalid",
                "field": "source_language",
            },
        ),
        (
            {"title": {"sv": "Bara svenska"}},
            400,
            {
                "detail": "The title is required in the source language 'en'.",
                "code": "invalid",
                "field": "title",
            },
        ),
        (
            {"title": {"en": "Life", "xx": "?"}},
            400,
            {"title": ["Unknown language code 'xx'."]},
        ),
        (
            {"slug": "panel"},
            409,
            {"detail": "A study with slug 'panel' exists already.", "code": "conflict", "field": "slug"},
        ),
    ],
)
def test_study_creation_errors_name_the_field(
    sara: APIClient, study: Study, body: dict[str, Any], status: int, error: dict[str, Any]
) -> None:
    valid = {"slug": "second", "source_language": "en", "languages": ["en", "sv"], "title": {"en": "Life"}}

    response = sara.post(f"{API}/studies/", {**valid, **body}, format="json")

    assert (response.status_code, response.json()) == (status, error)
    assert Study.objects.count() == 1


# --- building and publishing a questionnaire ---------------------------------------------------------------


def test_a_researcher_builds_and_publishes_a_questionnaire(rita: APIClient, study: Study) -> None:
    # given a new questionnaire
    response = rita.post(
        f"{API}/studies/{study.pk}/questionnaires/",
        {"slug": "health", "title": {"en": "Health", "sv": "Hälsa", "ar": "الصحة"}},
        format="json",
    )
    assert response.status_code == 201
    questionnaire = response.json()
    assert [(v["number"], v["status"]) for v in questionnaire["versions"]] == [(1, "draft")]
    version_id = questionnaire["versions"][0]["id"]

    # and a section
    response = rita.post(
        f"{API}/versions/{version_id}/sections/",
        {"key": "general", "title": {"en": "General", "sv": "Allmänt", "ar": "عام"}},
        format="json",
    )
    assert response.status_code == 201
    section = response.json()
    assert (section["key"], section["position"], section["questions"], section["stale"]) == (
        "general",
        1,
        [],
        {},
    )

    # when a question with choices is added
    response = rita.post(
        f"{API}/sections/{section['id']}/questions/",
        {
            "variable": "HEALTH",
            "type": "single_choice",
            "text": {"en": "How is your health?", "sv": "Hur mår du?", "ar": "كيف صحتك؟"},
            "allow_dont_know": True,
            "choices": [
                {"code": "1", "label": {"en": "Good", "sv": "Bra", "ar": "جيدة"}},
                {"code": "2", "label": {"en": "Poor", "sv": "Dålig", "ar": "سيئة"}},
            ],
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    question = response.json()
    choice_ids = list(Choice.objects.filter(question_id=question["id"]).values_list("pk", flat=True))
    assert question == {
        "id": question["id"],
        "section": section["id"],
        "position": 1,
        "variable": "HEALTH",
        "type": "single_choice",
        "text": {"en": "How is your health?", "sv": "Hur mår du?", "ar": "كيف صحتك؟"},
        "hint": {"en": "", "sv": "", "ar": ""},
        "required": True,
        "relevance": "",
        "constraint": "",
        "constraint_message": {"en": "", "sv": "", "ar": ""},
        "min_value": None,
        "max_value": None,
        "min_length": None,
        "max_length": None,
        "min_choices": None,
        "max_choices": None,
        "scale_min": None,
        "scale_max": None,
        "scale_min_label": {"en": "", "sv": "", "ar": ""},
        "scale_max_label": {"en": "", "sv": "", "ar": ""},
        "scale_reversed": False,
        "allow_dont_know": True,
        "allow_no_answer": False,
        "choices": [
            {
                "id": choice_ids[0],
                "code": "1",
                "position": 1,
                "label": {"en": "Good", "sv": "Bra", "ar": "جيدة"},
                "stale": {},
            },
            {
                "id": choice_ids[1],
                "code": "2",
                "position": 2,
                "label": {"en": "Poor", "sv": "Dålig", "ar": "سيئة"},
                "stale": {},
            },
        ],
        "stale": {},
    }

    # when the question is updated
    response = rita.patch(
        f"{API}/questions/{question['id']}/",
        {"required": False, "hint": {"en": "Think of the last month.", "sv": "Tänk på senaste månaden."}},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["required"], response.json()["hint"]) == (
        False,
        {"en": "Think of the last month.", "sv": "Tänk på senaste månaden.", "ar": ""},
    )
    # the Arabic hint is missing, so publishing is refused until it is written
    assert rita.post(f"{API}/versions/{version_id}/publish/").status_code == 400
    rita.patch(f"{API}/questions/{question['id']}/", {"hint": {"ar": "فكر في الشهر الماضي."}}, format="json")

    # and published
    response = rita.post(f"{API}/versions/{version_id}/publish/")

    # then
    assert response.status_code == 200
    published = response.json()
    assert (published["id"], published["number"], published["status"]) == (version_id, 1, "published")
    assert len(published["content_digest"]) == 64
    assert QuestionnaireVersion.objects.get(pk=version_id).published_by.username == "rita"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("patch", lambda v: f"questions/{_question_id(v, 'Q1')}/", {"required": False}),
        ("delete", lambda v: f"questions/{_question_id(v, 'HOURS')}/", None),
        ("post", lambda v: f"versions/{v.pk}/sections/", {"key": "more", "title": {"en": "More"}}),
        ("patch", lambda v: f"sections/{v.sections.get(key='work').pk}/", {"title": {"en": "Job"}}),
        ("delete", lambda v: f"sections/{v.sections.get(key='work').pk}/", None),
        (
            "post",
            lambda v: f"sections/{v.sections.get(key='work').pk}/questions/",
            {"variable": "WHY", "type": "text", "text": {"en": "Why?"}},
        ),
        (
            "post",
            lambda v: f"questions/{_question_id(v, 'Q1')}/choices/",
            {"code": "3", "label": {"en": "Quite"}},
        ),
        (
            "patch",
            lambda v: f"choices/{Choice.objects.get(question__version=v, code='1').pk}/",
            {"label": {"en": "Very"}},
        ),
        ("delete", lambda v: f"choices/{Choice.objects.get(question__version=v, code='1').pk}/", None),
        ("post", lambda v: f"versions/{v.pk}/publish/", None),
    ],
)
def test_a_published_version_cannot_be_edited(
    rita: APIClient,
    published: QuestionnaireVersion,
    method: str,
    url: Callable[[QuestionnaireVersion], str],
    body: dict[str, Any] | None,
) -> None:
    digest = services.version_content_digest(published)

    response = getattr(rita, method)(f"{API}/{url(published)}", body, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Version 1 of 'values' is published and frozen; create a new draft version to change it.",
        "code": "version_frozen",
    }
    assert services.version_content_digest(published) == digest
    assert (published.sections.count(), published.questions.count()) == (2, 4)


def test_a_new_draft_copies_the_published_version(rita: APIClient, published: QuestionnaireVersion) -> None:
    # when
    response = rita.post(f"{API}/questionnaires/{published.questionnaire_id}/drafts/")

    # then
    assert response.status_code == 201
    draft = response.json()
    assert (draft["number"], draft["status"], draft["based_on"], draft["published_at"]) == (
        2,
        "draft",
        published.pk,
        None,
    )
    detail = rita.get(f"{API}/versions/{draft['id']}/").json()
    assert list(_questions_by_variable(detail)) == ["Q1", "Q49", "EMPLOYED", "HOURS"]
    # the draft is editable while the published version stays frozen
    q1 = _questions_by_variable(detail)["Q1"]
    assert rita.patch(f"{API}/questions/{q1['id']}/", {"required": False}, format="json").status_code == 200
    assert published.questions.get(variable="Q1").required is True


def test_a_second_draft_is_refused(rita: APIClient, published: QuestionnaireVersion) -> None:
    rita.post(f"{API}/questionnaires/{published.questionnaire_id}/drafts/")

    response = rita.post(f"{API}/questionnaires/{published.questionnaire_id}/drafts/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "'values' has a draft version already; edit that one.",
        "code": "conflict",
    }
    assert published.questionnaire.versions.count() == 2


def test_publishing_lists_exactly_the_missing_translations(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    # given a question whose text and one choice label have no Arabic yet
    work = draft.sections.get(key="work")
    response = rita.post(
        f"{API}/sections/{work.pk}/questions/",
        {
            "variable": "KIDS",
            "type": "single_choice",
            "text": {"en": "Do you have children?", "sv": "Har du barn?"},
            "choices": [
                {"code": "0", "label": {"en": "No", "sv": "Nej", "ar": "لا"}},
                {"code": "1", "label": {"en": "Yes", "sv": "Ja"}},
            ],
        },
        format="json",
    )
    assert response.status_code == 201

    # when
    response = rita.post(f"{API}/versions/{draft.pk}/publish/")

    # then
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "not_publishable"
    assert error["details"]["missing_translations"] == {"ar": ["question KIDS: text", "choice KIDS=1: label"]}
    assert error["details"]["problems"] == [
        "Texts are missing in ar: question KIDS: text, choice KIDS=1: label."
    ]
    assert QuestionnaireVersion.objects.get(pk=draft.pk).status == "draft"


# --- translation coverage and review -----------------------------------------------------------------------


def test_coverage_counts_every_text_per_language(rita: APIClient, draft: QuestionnaireVersion) -> None:
    # given Q49's English text changed and its Arabic text was removed
    response = rita.patch(
        f"{API}/questions/{_question_id(draft, 'Q49')}/",
        {"text": {"en": "How satisfied are you with your life?", "ar": ""}},
        format="json",
    )
    assert response.status_code == 200

    # when
    response = rita.get(f"{API}/versions/{draft.pk}/coverage/")

    # then: 14 source texts (study 2, questionnaire 1, sections 2, Q1 3, Q49 3, EMPLOYED 1, HOURS 2)
    q49_text = {"label": "question Q49", "field": "text"}
    assert response.status_code == 200
    assert response.json() == [
        {"language": "en", "total": 14, "translated": 14, "complete": True, "missing": [], "stale": []},
        {
            "language": "sv",
            "total": 14,
            "translated": 14,
            "complete": True,
            "missing": [],
            "stale": [q49_text],
        },
        {
            "language": "ar",
            "total": 14,
            "translated": 13,
            "complete": False,
            "missing": [q49_text],
            "stale": [],
        },
    ]


def test_coverage_counts_only_texts_present_in_the_source(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    # given a hint written in English only
    rita.patch(
        f"{API}/questions/{_question_id(draft, 'EMPLOYED')}/",
        {"hint": {"en": "Paid work of any kind."}},
        format="json",
    )
    # and an Arabic hint without an English one, which no translator needs to translate
    rita.patch(f"{API}/questions/{_question_id(draft, 'Q1')}/", {"hint": {"ar": "تلميح"}}, format="json")

    coverage = {entry["language"]: entry for entry in rita.get(f"{API}/versions/{draft.pk}/coverage/").json()}

    assert [(c["total"], c["translated"]) for c in coverage.values()] == [(15, 15), (15, 14), (15, 14)]
    assert coverage["sv"]["missing"] == [{"label": "question EMPLOYED", "field": "hint"}]


def test_stale_translations_are_flagged_until_reviewed(rita: APIClient, draft: QuestionnaireVersion) -> None:
    # given
    q1_id = _question_id(draft, "Q1")
    choice_id = Choice.objects.get(question_id=q1_id, code="1").pk

    # when the English source texts change
    rita.patch(f"{API}/questions/{q1_id}/", {"text": {"en": "How important is your family?"}}, format="json")
    rita.patch(f"{API}/choices/{choice_id}/", {"label": {"en": "Extremely important"}}, format="json")

    # then the version shows which translations need review
    questions = _questions_by_variable(rita.get(f"{API}/versions/{draft.pk}/").json())
    assert questions["Q1"]["stale"] == {"text": ["sv", "ar"]}
    assert [c["stale"] for c in questions["Q1"]["choices"]] == [{"label": ["sv", "ar"]}, {}]
    assert [q["stale"] for var, q in questions.items() if var != "Q1"] == [{}, {}, {}]

    # when a translator rewrites the Swedish text and confirms the Arabic one and the labels
    rita.patch(f"{API}/questions/{q1_id}/", {"text": {"sv": "Hur viktig är din familj?"}}, format="json")
    responses = [
        rita.post(
            f"{API}/translations/review/",
            {"kind": kind, "id": pk, "field": field, "languages": languages},
            format="json",
        )
        for kind, pk, field, languages in [
            ("question", q1_id, "text", ["ar"]),
            ("choice", choice_id, "label", ["sv", "ar"]),
        ]
    ]

    # then nothing is stale any more
    assert [response.status_code for response in responses] == [204, 204]
    questions = _questions_by_variable(rita.get(f"{API}/versions/{draft.pk}/").json())
    assert [q["stale"] for q in questions.values()] == [{}, {}, {}, {}]
    assert [c["stale"] for c in questions["Q1"]["choices"]] == [{}, {}]
    coverage = rita.get(f"{API}/versions/{draft.pk}/coverage/").json()
    assert [entry["stale"] for entry in coverage] == [[], [], []]


def test_reviewing_the_study_title_clears_its_stale_flags(sara: APIClient, study: Study) -> None:
    sara.patch(f"{API}/studies/{study.pk}/", {"title": {"en": "Life in Sweden today"}}, format="json")
    assert Study.objects.get(pk=study.pk).is_translation_stale("title", "sv") is True

    response = sara.post(
        f"{API}/translations/review/",
        {"kind": "study", "id": study.pk, "field": "title", "languages": ["sv", "ar"]},
        format="json",
    )

    assert response.status_code == 204
    study = Study.objects.get(pk=study.pk)
    assert [study.is_translation_stale("title", code) for code in ("sv", "ar")] == [False, False]


def test_the_version_detail_runs_as_many_queries_for_many_questions_as_for_few(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    # given
    url = f"{API}/versions/{draft.pk}/"
    with CaptureQueriesContext(connection) as few:
        rita.get(url)
    work = draft.sections.get(key="work")
    for number in range(10):
        services.question_create(
            section=work, variable=f"EXTRA{number}", type="text", text={"en": "?", "sv": "?", "ar": "؟"}
        )

    # when
    with CaptureQueriesContext(connection) as many:
        response = rita.get(url)

    # then
    assert len(_questions_by_variable(response.json())) == 14
    assert len(many) == len(few)


def test_reviewing_a_field_that_is_not_translated_is_refused(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    q1_id = _question_id(draft, "Q1")

    response = rita.post(
        f"{API}/translations/review/",
        {"kind": "question", "id": q1_id, "field": "variable", "languages": ["sv"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "field"
    assert "variable" not in Question.objects.get(pk=q1_id).translation_digests


def test_a_section_is_deleted_with_its_questions_and_choices(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    family = draft.sections.get(key="family")

    response = rita.delete(f"{API}/sections/{family.pk}/")

    assert response.status_code == 204
    assert list(draft.questions.values_list("variable", flat=True)) == ["EMPLOYED", "HOURS"]
    assert Choice.objects.filter(question__version=draft).count() == 0


def test_a_section_whose_questions_are_referred_to_cannot_be_deleted(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    # given EMPLOYED, in the work section, is asked only when Q1 of the family section is '1'
    rita.raise_request_exception = False
    services.question_update(question=draft.questions.get(variable="EMPLOYED"), relevance="${Q1} = '1'")
    family = draft.sections.get(key="family")

    response = rita.delete(f"{API}/sections/{family.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert draft.questions.count() == 4


# --- validation errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"text": {"en": "Why?", "xx": "?"}}, {"text": ["Unknown language code 'xx'."]}),
        ({"text": "Why?"}, {"text": ["Expected an object mapping language codes to texts."]}),
        ({"text": {"en": 42}}, {"text": ["The text for 'en' must be a string."]}),
        (
            {"text": {"en": "Why?", "fa": "چرا؟"}},
            {
                "detail": "'fa' is not a language of this study (it has en, sv, ar).",
                "code": "invalid",
                "field": "text",
            },
        ),
        ({"variable": "1st"}, {"variable": ["This value does not match the required pattern."]}),
        ({"variable": "has space"}, {"variable": ["This value does not match the required pattern."]}),
        ({"type": "essay"}, {"type": ['"essay" is not a valid choice.']}),
        (
            {"variable": "Q1"},
            {
                "detail": "Variable 'Q1' is used by another question of this version.",
                "code": "conflict",
                "field": "variable",
            },
        ),
        (
            {"type": "rating"},
            {
                "detail": "A rating scale needs scale_min and scale_max.",
                "code": "invalid",
                "field": "scale_min",
            },
        ),
        (
            {"choices": [{"code": "1", "label": {"en": "One"}}]},
            {"detail": "WHY is a text question and has no choices.", "code": "invalid", "field": "code"},
        ),
    ],
)
def test_question_creation_errors_name_the_field(
    rita: APIClient, draft: QuestionnaireVersion, body: dict[str, Any], error: dict[str, Any]
) -> None:
    work = draft.sections.get(key="work")
    valid = {"variable": "WHY", "type": "text", "text": {"en": "Why?"}}

    response = rita.post(f"{API}/sections/{work.pk}/questions/", {**valid, **body}, format="json")

    assert response.status_code == 409 if error.get("code") == "conflict" else 400
    assert response.json() == error
    assert draft.questions.count() == 4


@pytest.mark.parametrize(
    ("relevance", "says"),
    [
        ("${HOURS} > 3", "${HOURS} is not an earlier question"),  # names a later question
        ("${Q1} = '1'", "${Q1} is not an earlier question"),  # names itself
        ("${NOPE} = 1", "${NOPE} is not an earlier question"),
        ("frobnicate(1)", "Unknown function 'frobnicate()'"),
        ("${Q49} > ", "Unexpected end of expression"),
        (". > 3", "can only be used in a constraint"),
        ("(" * 1500, "too complex"),
        ("(" * 100 + "1" + ")" * 100, "nested too deeply"),
        ("not(" * 40 + "1" + ")" * 40, "nested too deeply"),
        ("1" + " + 1" * 499, "too complex"),
    ],
)
def test_a_bad_relevance_is_refused_naming_the_field(
    rita: APIClient, draft: QuestionnaireVersion, relevance: str, says: str
) -> None:
    response = rita.patch(
        f"{API}/questions/{_question_id(draft, 'Q1')}/", {"relevance": relevance}, format="json"
    )

    assert response.status_code == 400
    error = response.json()
    assert (error["code"], error["field"]) == ("invalid", "relevance")
    assert error["detail"].startswith("Relevance of Q1: ")
    assert says in error["detail"]
    assert Question.objects.get(variable="Q1").relevance == ""


def test_an_overlong_relevance_is_refused_before_parsing(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    response = rita.patch(
        f"{API}/questions/{_question_id(draft, 'Q1')}/", {"relevance": "(" * 5000}, format="json"
    )

    assert (response.status_code, response.json()) == (
        400,
        {"relevance": ["Ensure this field has no more than 2000 characters."]},
    )


def test_a_bad_constraint_is_refused_naming_the_field(rita: APIClient, draft: QuestionnaireVersion) -> None:
    response = rita.patch(
        f"{API}/questions/{_question_id(draft, 'HOURS')}/", {"constraint": ". >= ${LATER}"}, format="json"
    )

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid", "constraint")
    assert Question.objects.get(variable="HOURS").constraint == ". >= 1 and . <= 80"


def test_a_relevance_naming_an_earlier_question_is_accepted(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    response = rita.patch(
        f"{API}/questions/{_question_id(draft, 'Q49')}/",
        {"relevance": "  ${Q1} = '1' and ${Q1} != ''  "},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["relevance"] == "${Q1} = '1' and ${Q1} != ''"


def test_a_nul_character_in_a_text_is_refused_naming_the_field(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    rita.raise_request_exception = False
    work = draft.sections.get(key="work")

    response = rita.post(
        f"{API}/sections/{work.pk}/questions/",
        {"variable": "WHY", "type": "text", "text": {"en": "Why\x00?"}},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["text"]


# --- waves -------------------------------------------------------------------------------------------------


def test_a_wave_is_created_and_updated(
    rita: APIClient, study: Study, published: QuestionnaireVersion
) -> None:
    # when
    response = rita.post(
        f"{API}/studies/{study.pk}/waves/",
        {
            "key": "baseline",
            "name": {"en": "Baseline", "sv": "Baslinje", "ar": "خط الأساس"},
            "questionnaire_version": published.pk,
            "anchor": "arrival",
            "window_days": 21,
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    wave = response.json()
    assert wave == {
        "id": Wave.objects.get(key="baseline").pk,
        "study": study.pk,
        "key": "baseline",
        "position": 1,
        "name": {"en": "Baseline", "sv": "Baslinje", "ar": "خط الأساس"},
        "questionnaire_version": published.pk,
        "anchor": "arrival",
        "offset_months": 0,
        "offset_days": 0,
        "window_days": 21,
        "stale": {},
    }

    # when
    response = rita.patch(
        f"{API}/waves/{wave['id']}/",
        {"offset_months": 6, "window_days": 14, "name": {"en": "Six months"}},
        format="json",
    )

    # then
    assert response.status_code == 200
    updated = response.json()
    assert (updated["offset_months"], updated["window_days"], updated["name"], updated["stale"]) == (
        6,
        14,
        {"en": "Six months", "sv": "Baslinje", "ar": "خط الأساس"},
        {"name": ["sv", "ar"]},
    )
    assert [w["key"] for w in rita.get(f"{API}/studies/{study.pk}/waves/").json()] == ["baseline"]


def test_a_wave_cannot_point_at_a_draft_version(
    rita: APIClient, study: Study, draft: QuestionnaireVersion
) -> None:
    response = rita.post(
        f"{API}/studies/{study.pk}/waves/",
        {"key": "baseline", "name": {"en": "Baseline"}, "questionnaire_version": draft.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "A wave can only ask a published version.",
        "code": "invalid",
        "field": "questionnaire_version",
    }
    assert Wave.objects.count() == 0


def test_a_wave_cannot_be_moved_to_a_draft_version(
    rita: APIClient, study: Study, published: QuestionnaireVersion
) -> None:
    # given a wave asking the published version, and a new draft
    wave = services.wave_create(
        study=study, key="baseline", name={"en": "Baseline"}, questionnaire_version=published
    )
    draft = services.version_new_draft(questionnaire=published.questionnaire)

    response = rita.patch(f"{API}/waves/{wave.pk}/", {"questionnaire_version": draft.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "questionnaire_version"
    assert Wave.objects.get(pk=wave.pk).questionnaire_version_id == published.pk


def _other_study_version(sara_user: User) -> QuestionnaireVersion:
    other = services.study_create(
        slug="other", title={"en": "Other"}, source_language="en", languages=["en"], by=sara_user
    )
    questionnaire = services.questionnaire_create(study=other, slug="x", title={"en": "X"})
    version = questionnaire.versions.get()
    section = services.section_create(version=version, key="s", title={"en": "S"})
    services.question_create(section=section, variable="A", type="text", text={"en": "A?"})
    return services.version_publish(version=version, by=sara_user)


def test_a_wave_cannot_ask_another_studys_version(sara: APIClient, study: Study, sara_user: User) -> None:
    version = _other_study_version(sara_user)

    response = sara.post(
        f"{API}/studies/{study.pk}/waves/",
        {"key": "baseline", "name": {"en": "Baseline"}, "questionnaire_version": version.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "questionnaire_version"
    assert Wave.objects.count() == 0


def test_another_studys_version_looks_like_a_missing_one(
    rita: APIClient, study: Study, sara_user: User
) -> None:
    # given a version of a study rita is no member of
    version = _other_study_version(sara_user)
    url = f"{API}/studies/{study.pk}/waves/"

    # when
    foreign = rita.post(
        url, {"key": "a", "name": {"en": "A"}, "questionnaire_version": version.pk}, format="json"
    )
    missing = rita.post(
        url, {"key": "a", "name": {"en": "A"}, "questionnaire_version": version.pk + 1000}, format="json"
    )

    # then
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == {
        key: value.replace(str(version.pk + 1000), str(version.pk)) if isinstance(value, str) else value
        for key, value in missing.json().items()
    }


# --- who may author ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    study: Study
    questionnaire: Questionnaire
    version: QuestionnaireVersion
    section: Section
    question: Question
    choice: Choice
    wave: Wave


def _no_body(targets: Targets) -> None:
    return None


@dataclass(frozen=True)
class Endpoint:
    """One authoring request, and what it gets when the study admin makes it."""

    method: str
    url: Callable[[Targets], str]
    admin_status: int
    body: Callable[[Targets], dict[str, Any] | None] = _no_body
    # Creating a study needs a permission; anything of a study not theirs does not exist for them.
    outsider_status: int = 404

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.url(PLACEHOLDERS)}"


class _Placeholder:
    def __init__(self, name: str) -> None:
        self.pk = f"<{name}>"


PLACEHOLDERS = Targets(*(_Placeholder(name) for name in Targets.__dataclass_fields__))  # type: ignore[arg-type]

# Every authoring endpoint. A new endpoint gets a row here.
AUTHORING_ENDPOINTS = [
    Endpoint(
        "post",
        lambda t: "studies/",
        201,
        lambda t: {"slug": "new", "source_language": "en", "languages": ["en"], "title": {"en": "New"}},
        outsider_status=403,
    ),
    Endpoint("get", lambda t: f"studies/{t.study.pk}/", 200),
    Endpoint("patch", lambda t: f"studies/{t.study.pk}/", 200, lambda t: {"title": {"en": "Taken over"}}),
    Endpoint("get", lambda t: f"studies/{t.study.pk}/questionnaires/", 200),
    Endpoint(
        "post",
        lambda t: f"studies/{t.study.pk}/questionnaires/",
        201,
        lambda t: {"slug": "new", "title": {"en": "New"}},
    ),
    Endpoint("get", lambda t: f"studies/{t.study.pk}/waves/", 200),
    Endpoint(
        "post", lambda t: f"studies/{t.study.pk}/waves/", 201, lambda t: {"key": "new", "name": {"en": "New"}}
    ),
    Endpoint("get", lambda t: f"questionnaires/{t.questionnaire.pk}/", 200),
    # 409: the questionnaire has its draft already
    Endpoint("post", lambda t: f"questionnaires/{t.questionnaire.pk}/drafts/", 409),
    Endpoint("get", lambda t: f"versions/{t.version.pk}/", 200),
    Endpoint("post", lambda t: f"versions/{t.version.pk}/publish/", 200),
    Endpoint("get", lambda t: f"versions/{t.version.pk}/coverage/", 200),
    Endpoint("get", lambda t: f"versions/{t.version.pk}/questionnaire/", 200),
    Endpoint(
        "post",
        lambda t: f"versions/{t.version.pk}/sections/",
        201,
        lambda t: {"key": "new", "title": {"en": "New"}},
    ),
    Endpoint("patch", lambda t: f"sections/{t.section.pk}/", 200, lambda t: {"title": {"en": "New"}}),
    Endpoint("delete", lambda t: f"sections/{t.section.pk}/", 204),
    Endpoint(
        "post",
        lambda t: f"sections/{t.section.pk}/questions/",
        201,
        lambda t: {"variable": "NEW", "type": "text", "text": {"en": "New?"}},
    ),
    Endpoint("get", lambda t: f"questions/{t.question.pk}/", 200),
    Endpoint("patch", lambda t: f"questions/{t.question.pk}/", 200, lambda t: {"required": False}),
    Endpoint("delete", lambda t: f"questions/{t.question.pk}/", 204),
    Endpoint(
        "post",
        lambda t: f"questions/{t.question.pk}/choices/",
        201,
        lambda t: {"code": "9", "label": {"en": "9"}},
    ),
    Endpoint("patch", lambda t: f"choices/{t.choice.pk}/", 200, lambda t: {"label": {"en": "New"}}),
    Endpoint("delete", lambda t: f"choices/{t.choice.pk}/", 204),
    Endpoint(
        "post",
        lambda t: "translations/review/",
        204,
        lambda t: {"kind": "question", "id": t.question.pk, "field": "text", "languages": ["sv"]},
    ),
    Endpoint("get", lambda t: f"waves/{t.wave.pk}/", 200),
    Endpoint("patch", lambda t: f"waves/{t.wave.pk}/", 200, lambda t: {"window_days": 7}),
    Endpoint("get", lambda t: f"waves/{t.wave.pk}/questionnaire/", 200),
]


@pytest.fixture
def targets(study: Study, draft: QuestionnaireVersion, sara_user: User) -> Targets:
    """One of everything, in a draft (so that a permitted edit would succeed), and a wave asking v1."""
    published = services.version_publish(version=draft, by=sara_user)
    wave = services.wave_create(
        study=study, key="baseline", name={"en": "Baseline"}, questionnaire_version=published
    )
    version = services.version_new_draft(questionnaire=published.questionnaire)
    question = version.questions.get(variable="Q1")
    return Targets(
        study=study,
        questionnaire=published.questionnaire,
        version=version,
        section=version.sections.get(key="work"),
        question=question,
        choice=question.choices.get(code="2"),
        wave=wave,
    )


def _state() -> list[Any]:
    """Everything an authoring request could change."""
    models = (Study, StudyMembership, Questionnaire, QuestionnaireVersion, Section, Question, Choice, Wave)
    return [list(model.objects.order_by("pk").values()) for model in models]


def _call(client: APIClient, endpoint: Endpoint, targets: Targets) -> Any:
    return getattr(client, endpoint.method)(
        f"{API}/{endpoint.url(targets)}", endpoint.body(targets), format="json"
    )


@pytest.mark.parametrize("endpoint", AUTHORING_ENDPOINTS, ids=str)
def test_anonymous_is_refused_everywhere(anon: APIClient, targets: Targets, endpoint: Endpoint) -> None:
    before = _state()

    response = _call(anon, endpoint, targets)

    assert response.status_code == 401
    assert _state() == before


@pytest.mark.parametrize("endpoint", AUTHORING_ENDPOINTS, ids=str)
def test_an_outsider_is_refused_everywhere(outsider: APIClient, targets: Targets, endpoint: Endpoint) -> None:
    before = _state()

    response = _call(outsider, endpoint, targets)

    assert response.status_code == endpoint.outsider_status
    assert _state() == before


@pytest.mark.parametrize("endpoint", AUTHORING_ENDPOINTS, ids=str)
def test_the_study_admin_gets_through_everywhere(
    sara: APIClient, targets: Targets, endpoint: Endpoint
) -> None:
    # The other side of the refusals above: each row is a request that works for a member.
    sara.raise_request_exception = False

    response = _call(sara, endpoint, targets)

    assert response.status_code == endpoint.admin_status, response.content


def test_an_outsider_sees_no_studies(outsider: APIClient, anon: APIClient, study: Study) -> None:
    assert (outsider.get(f"{API}/studies/").json(), anon.get(f"{API}/studies/").status_code) == ([], 401)
