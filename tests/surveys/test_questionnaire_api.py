"""The questionnaire as a phone receives it: GET /api/v1/versions/<id>/questionnaire/ and the wave's."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from surveys import services
from surveys.models import QuestionnaireVersion, Study, StudyMembership, Wave
from translations.content import set_text

ARABIC_LETTERS = re.compile(r"[\u0600-\u06ff]")

Q1_EN = {
    "var": "Q1",
    "type": "single_choice",
    "text": "How important is family?",
    "required": True,
    "choices": [{"code": "1", "label": "Very important"}, {"code": "2", "label": "Not important"}],
    "special": ["-1"],
}
HOURS_EN = {
    "var": "HOURS",
    "type": "integer",
    "text": "Hours per week?",
    "required": True,
    "relevant": "${EMPLOYED} = 'yes'",
    "constraint": ". >= 1 and . <= 80",
    "constraint_msg": "1 to 80",
    "min": 1,
    "max": 80,
}
# Every participant-facing text of the fixture study in English and Swedish, and the UI messages the
# payload carries: none of them may reach a phone that asked for Arabic.
ENGLISH_AND_SWEDISH_TEXTS = [
    "Life in Sweden", "Livet i Sverige", "Thank you for taking part.", "Tack för att du deltar.",
    "Values", "Värderingar", "Family", "Familj", "Work", "Arbete",
    "How important is family?", "Hur viktig är familjen?", "Very important", "Mycket viktig",
    "Not important", "Inte viktig", "How satisfied are you?", "Hur nöjd är du?", "Not at all",
    "Inte alls", "Completely", "Helt", "Do you work?", "Arbetar du?", "Hours per week?",
    "Timmar per vecka?", "1 to 80", "1 till 80", "Don't know", "Vet inte", "Prefer not to answer",
    "Vill inte svara", "Yes", "Ja", "Nej",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    # Rendered payloads of published versions live in the cache, which outlives a test's transaction.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def wave(study: Study, published: QuestionnaireVersion) -> Wave:
    return services.wave_create(
        study=study,
        key="baseline",
        name={"en": "Baseline", "sv": "Baslinje", "ar": "خط الأساس"},
        questionnaire_version=published,
    )


@pytest.fixture
def persian_version(sara_user: User, rita_user: User) -> QuestionnaireVersion:
    """A published one-question version of a study run in English and Persian (fa), not Dari (prs)."""
    study = services.study_create(
        slug="persian",
        title={"en": "Persian panel", "fa": "پنل فارسی"},
        source_language="en",
        languages=["en", "fa"],
        by=sara_user,
    )
    StudyMembership.objects.create(study=study, user=rita_user, role=StudyMembership.Role.RESEARCHER)
    questionnaire = services.questionnaire_create(
        study=study, slug="short", title={"en": "Short", "fa": "کوتاه"}
    )
    version = questionnaire.versions.get()
    section = services.section_create(version=version, key="only", title={"en": "Only", "fa": "تنها"})
    services.question_create(
        section=section,
        variable="AGE",
        type="integer",
        text={"en": "How old are you?", "fa": "چند سال دارید؟"},
    )
    return services.version_publish(version=version, by=sara_user)


def _version_url(version: QuestionnaireVersion) -> str:
    return f"/api/v1/versions/{version.pk}/questionnaire/"


def _wave_url(wave: Wave) -> str:
    return f"/api/v1/waves/{wave.pk}/questionnaire/"


def _payload(response: Any) -> dict[str, Any]:
    return json.loads(response.content.decode())


def _question(payload: dict[str, Any], variable: str) -> dict[str, Any]:
    questions = [q for section in payload["sections"] for q in section["questions"] if q["var"] == variable]
    assert len(questions) == 1
    return questions[0]


def _empty_values(value: Any, path: str = "") -> list[str]:
    """Paths of every empty string, list, dict or null in a decoded payload."""
    if value is None or value in ("", [], {}):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _empty_values(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [
            found for index, item in enumerate(value) for found in _empty_values(item, f"{path}[{index}]")
        ]
    return []


# --- language ----------------------------------------------------------------------------------------------


def test_served_in_the_language_asked_for_with_lang(rita: APIClient, published: QuestionnaireVersion) -> None:
    # when
    response = rita.get(_version_url(published), {"lang": "sv"})

    # then
    assert response.status_code == 200
    assert response["Content-Language"] == "sv"
    assert response["Content-Type"] == "application/json; charset=utf-8"
    payload = _payload(response)
    assert (payload["language"], payload["dir"], payload["title"]) == ("sv", "ltr", "Värderingar")
    assert _question(payload, "Q1")["text"] == "Hur viktig är familjen?"
    assert ARABIC_LETTERS.search(response.content.decode()) is None


def test_lang_parameter_wins_over_accept_language(rita: APIClient, published: QuestionnaireVersion) -> None:
    response = rita.get(_version_url(published), {"lang": "sv"}, HTTP_ACCEPT_LANGUAGE="ar")

    assert response["Content-Language"] == "sv"
    assert _payload(response)["language"] == "sv"


@pytest.mark.parametrize(
    ("accept_language", "served"),
    [
        ("sv-SE,sv;q=0.9,en;q=0.5", "sv"),
        # French is not a study language: the next acceptable one, by q-value, is Arabic
        ("fr;q=0.9, ar;q=0.8", "ar"),
        ("en;q=0.2, ar;q=0.7, sv;q=0.5", "ar"),
        ("AR", "ar"),
        ("ar;q=0, sv;q=0.1", "sv"),
        ("de, fr", "en"),
        ("", "en"),
    ],
)
def test_accept_language_chooses_the_best_study_language(
    rita: APIClient, published: QuestionnaireVersion, accept_language: str, served: str
) -> None:
    response = rita.get(_version_url(published), HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.status_code == 200
    assert response["Content-Language"] == served
    assert _payload(response)["language"] == served


def test_arabic_is_served_right_to_left(rita: APIClient, published: QuestionnaireVersion) -> None:
    response = rita.get(_version_url(published), HTTP_ACCEPT_LANGUAGE="fr;q=0.9, ar;q=0.8")

    assert response["Content-Language"] == "ar"
    payload = _payload(response)
    assert (payload["language"], payload["dir"], payload["directions"]) == ("ar", "rtl", {"ar": "rtl"})


@pytest.mark.parametrize(
    ("requested", "served", "direction"),
    [
        ("ckb", "ar", "rtl"),  # Sorani falls back to Kurmanji, then Arabic, which the study has
        ("prs", "en", "ltr"),  # Dari falls back to Persian, then English; the study has no Persian
        ("uk", "en", "ltr"),
        ("sv-FI", "sv", "ltr"),  # primary subtag
        ("xx", "en", "ltr"),  # unknown code: the source language
        ("de", "en", "ltr"),  # a real language the registry does not have
    ],
)
def test_a_language_outside_the_study_is_served_along_its_fallback_chain(
    rita: APIClient, published: QuestionnaireVersion, requested: str, served: str, direction: str
) -> None:
    response = rita.get(_version_url(published), {"lang": requested})

    assert response.status_code == 200
    assert response["Content-Language"] == served
    payload = _payload(response)
    assert (payload["language"], payload["dir"]) == (served, direction)


@pytest.mark.parametrize("requested", ["prs", "ps", "fa"])
def test_dari_and_pashto_fall_back_to_persian(
    rita: APIClient, persian_version: QuestionnaireVersion, requested: str
) -> None:
    response = rita.get(_version_url(persian_version), {"lang": requested})

    assert response["Content-Language"] == "fa"
    payload = _payload(response)
    assert (payload["language"], payload["dir"], payload["title"]) == ("fa", "rtl", "کوتاه")
    assert _question(payload, "AGE")["text"] == "چند سال دارید؟"


def test_a_missing_translation_in_a_draft_falls_back_and_says_so(
    rita: APIClient, draft: QuestionnaireVersion
) -> None:
    # given a draft whose Q1 has no Arabic text yet
    question = draft.questions.get(variable="Q1")
    set_text(question, "text", "ar", "")
    question.save()

    # when
    response = rita.get(_version_url(draft), {"lang": "ar"})

    # then the English text is served, marked with its language
    assert response["Content-Language"] == "ar, en"
    payload = _payload(response)
    assert _question(payload, "Q1") == {
        "var": "Q1",
        "type": "single_choice",
        "text": "How important is family?",
        "lang": {"text": "en"},
        "required": True,
        "choices": [{"code": "1", "label": "مهمة جدا"}, {"code": "2", "label": "غير مهمة"}],
        "special": ["-1"],
    }
    assert payload["directions"] == {"ar": "rtl", "en": "ltr"}


# --- the compact payload -----------------------------------------------------------------------------------


def test_question_entries_are_compact_and_exact(rita: APIClient, published: QuestionnaireVersion) -> None:
    payload = _payload(rita.get(_version_url(published), {"lang": "en"}))

    assert _question(payload, "Q1") == Q1_EN
    assert _question(payload, "HOURS") == HOURS_EN


def test_the_arabic_payload_is_exactly_the_arabic_questionnaire(
    rita: APIClient, published: QuestionnaireVersion
) -> None:
    response = rita.get(_version_url(published), {"lang": "ar"})

    assert _payload(response) == {
        "questionnaire": "values",
        "version": 1,
        "version_id": published.pk,
        "language": "ar",
        "dir": "rtl",
        "title": "القيم",
        "introduction": "شكرا لمشاركتك.",
        "sections": [
            {
                "key": "family",
                "title": "العائلة",
                "questions": [
                    {
                        "var": "Q1",
                        "type": "single_choice",
                        "text": "ما مدى أهمية العائلة؟",
                        "required": True,
                        "choices": [{"code": "1", "label": "مهمة جدا"}, {"code": "2", "label": "غير مهمة"}],
                        "special": ["-1"],
                    },
                    {
                        "var": "Q49",
                        "type": "rating",
                        "text": "ما مدى رضاك؟",
                        "required": True,
                        "scale": {"min": 1, "max": 10, "min_label": "إطلاقا", "max_label": "تماما"},
                    },
                ],
            },
            {
                "key": "work",
                "title": "العمل",
                "questions": [
                    {"var": "EMPLOYED", "type": "yes_no", "text": "هل تعمل؟", "required": True},
                    {
                        "var": "HOURS",
                        "type": "integer",
                        "text": "ساعات في الأسبوع؟",
                        "required": True,
                        "relevant": "${EMPLOYED} = 'yes'",
                        "constraint": ". >= 1 and . <= 80",
                        "constraint_msg": "من 1 إلى 80",
                        "min": 1,
                        "max": 80,
                    },
                ],
            },
        ],
        "labels": {"-1": "لا أعرف", "-2": "أفضل عدم الإجابة", "yes": "نعم", "no": "لا"},
        "directions": {"ar": "rtl"},
    }


def test_no_other_language_reaches_an_arabic_phone(rita: APIClient, published: QuestionnaireVersion) -> None:
    body = rita.get(_version_url(published), {"lang": "ar"}).content.decode()

    assert [text for text in ENGLISH_AND_SWEDISH_TEXTS if text in body] == []


def test_the_payload_has_no_empty_fields(rita: APIClient, published: QuestionnaireVersion) -> None:
    payload = _payload(rita.get(_version_url(published), {"lang": "sv"}))

    assert _empty_values(payload) == []
    # no hint was written, so there is no hint key at all
    assert [q["var"] for s in payload["sections"] for q in s["questions"] if "hint" in q] == []


def test_the_body_is_compact_json(rita: APIClient, published: QuestionnaireVersion) -> None:
    body = rita.get(_version_url(published), {"lang": "ar"}).content.decode()

    assert body == json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))


def test_special_answers_are_listed_with_labels_in_the_served_language(
    rita: APIClient, draft: QuestionnaireVersion, sara_user: User
) -> None:
    # given Q49 also allows "don't know" and "no answer"
    services.question_update(
        question=draft.questions.get(variable="Q49"), allow_dont_know=True, allow_no_answer=True
    )
    version = services.version_publish(version=draft, by=sara_user)

    # when
    payload = _payload(rita.get(_version_url(version), {"lang": "sv"}))

    # then
    assert (_question(payload, "Q1")["special"], _question(payload, "Q49")["special"]) == (
        ["-1"],
        ["-1", "-2"],
    )
    assert payload["labels"] == {"-1": "Vet inte", "-2": "Vill inte svara", "yes": "Ja", "no": "Nej"}


# --- gzip and ETags ----------------------------------------------------------------------------------------


def test_gzip_is_served_when_accepted(rita: APIClient, published: QuestionnaireVersion) -> None:
    # when
    identity = rita.get(_version_url(published), {"lang": "ar"})
    compressed = rita.get(_version_url(published), {"lang": "ar"}, HTTP_ACCEPT_ENCODING="br, gzip;q=0.8")

    # then
    assert compressed["Content-Encoding"] == "gzip"
    assert identity.has_header("Content-Encoding") is False
    assert gzip.decompress(compressed.content) == identity.content
    assert len(compressed.content) < len(identity.content)
    for response in (identity, compressed):
        assert {"Accept-Encoding", "Accept-Language"} <= {v.strip() for v in response["Vary"].split(",")}


def test_gzip_refused_with_q_zero_is_not_served(rita: APIClient, published: QuestionnaireVersion) -> None:
    response = rita.get(_version_url(published), HTTP_ACCEPT_ENCODING="gzip;q=0, identity")

    assert response.has_header("Content-Encoding") is False
    assert _payload(response)["language"] == "en"


def test_etags_are_strong_and_differ_per_representation(
    rita: APIClient, published: QuestionnaireVersion
) -> None:
    identity = rita.get(_version_url(published), {"lang": "ar"})["ETag"]
    compressed = rita.get(_version_url(published), {"lang": "ar"}, HTTP_ACCEPT_ENCODING="gzip")["ETag"]
    swedish = rita.get(_version_url(published), {"lang": "sv"})["ETag"]

    for etag in (identity, compressed, swedish):
        assert re.fullmatch(r'"[0-9a-z-]+"', etag), etag
    assert len({identity, compressed, swedish}) == 3


def test_the_etag_is_stable_across_requests(rita: APIClient, published: QuestionnaireVersion) -> None:
    first = rita.get(_version_url(published), {"lang": "ar"}, HTTP_ACCEPT_ENCODING="gzip")
    cache.clear()  # as another server process would, rendering afresh
    second = rita.get(_version_url(published), {"lang": "ar"}, HTTP_ACCEPT_ENCODING="gzip")

    assert first["ETag"] == second["ETag"]
    assert first.content == second.content


# --- conditional requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("accept_encoding", ["", "gzip"])
def test_a_current_etag_gets_304_without_a_body(
    rita: APIClient, published: QuestionnaireVersion, accept_encoding: str
) -> None:
    # given
    first = rita.get(_version_url(published), {"lang": "ar"}, HTTP_ACCEPT_ENCODING=accept_encoding)

    # when
    second = rita.get(
        _version_url(published),
        {"lang": "ar"},
        HTTP_ACCEPT_ENCODING=accept_encoding,
        HTTP_IF_NONE_MATCH=first["ETag"],
    )

    # then
    assert second.status_code == 304
    assert second.content == b""
    assert second["ETag"] == first["ETag"]


def test_a_stale_etag_gets_the_full_body(rita: APIClient, published: QuestionnaireVersion) -> None:
    current = rita.get(_version_url(published), {"lang": "ar"})

    response = rita.get(
        _version_url(published), {"lang": "ar"}, HTTP_IF_NONE_MATCH='"0123456789abcdef0123456789abcdef"'
    )

    assert response.status_code == 200
    assert response.content == current.content
    assert response["ETag"] == current["ETag"]


def test_the_etag_of_another_representation_gets_the_full_body(
    rita: APIClient, published: QuestionnaireVersion
) -> None:
    identity_etag = rita.get(_version_url(published), {"lang": "ar"})["ETag"]
    swedish_etag = rita.get(_version_url(published), {"lang": "sv"})["ETag"]

    compressed = rita.get(
        _version_url(published), {"lang": "ar"}, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=identity_etag
    )
    arabic = rita.get(_version_url(published), {"lang": "ar"}, HTTP_IF_NONE_MATCH=swedish_etag)

    assert (compressed.status_code, arabic.status_code) == (200, 200)


def test_responses_tell_caches_to_revalidate(rita: APIClient, published: QuestionnaireVersion) -> None:
    response = rita.get(_version_url(published))

    assert response["Cache-Control"] == "private, no-cache"


# --- server-side caching -----------------------------------------------------------------------------------


def test_a_published_version_is_rendered_once(rita: APIClient, published: QuestionnaireVersion) -> None:
    # when
    with CaptureQueriesContext(connection) as first:
        first_response = rita.get(_version_url(published), {"lang": "ar"})
    with CaptureQueriesContext(connection) as second:
        second_response = rita.get(_version_url(published), {"lang": "ar"})

    # then only the permission-checked fetch of the version remains
    assert (len(first), len(second)) == (4, 1)
    assert second_response.content == first_response.content


def test_each_language_is_rendered_and_cached_separately(
    rita: APIClient, published: QuestionnaireVersion
) -> None:
    rita.get(_version_url(published), {"lang": "ar"})

    with CaptureQueriesContext(connection) as swedish:
        response = rita.get(_version_url(published), {"lang": "sv"})

    assert len(swedish) == 4
    assert _payload(response)["language"] == "sv"


def test_a_draft_preview_shows_an_edit_at_once(rita: APIClient, draft: QuestionnaireVersion) -> None:
    # given
    before = rita.get(_version_url(draft), {"lang": "en"})

    # when
    services.question_update(question=draft.questions.get(variable="Q1"), text={"en": "Is family important?"})
    after = rita.get(_version_url(draft), {"lang": "en"}, HTTP_IF_NONE_MATCH=before["ETag"])

    # then
    assert after.status_code == 200
    assert _question(_payload(after), "Q1")["text"] == "Is family important?"
    assert after["ETag"] != before["ETag"]


def test_a_cached_published_payload_matches_a_fresh_rendering_after_the_study_changes(
    sara: APIClient, study: Study, published: QuestionnaireVersion
) -> None:
    # given the Arabic rendering is cached
    cached = sara.get(_version_url(published), {"lang": "ar"})
    assert cached.status_code == 200

    # when the study's introduction, which the payload carries, is edited
    response = sara.patch(
        f"/api/v1/studies/{study.pk}/", {"introduction": {"ar": "نشكرك على مشاركتك."}}, format="json"
    )
    assert response.status_code == 200
    from_cache = sara.get(_version_url(published), {"lang": "ar"})
    cache.clear()  # another server process, or the cache entry expired
    fresh = sara.get(_version_url(published), {"lang": "ar"})

    # then every process serves the same bytes under the same ETag for the same frozen version
    assert (from_cache["ETag"], from_cache.content) == (fresh["ETag"], fresh.content)


# --- waves -------------------------------------------------------------------------------------------------


def test_a_wave_serves_its_published_version(
    rita: APIClient, wave: Wave, published: QuestionnaireVersion
) -> None:
    by_version = rita.get(_version_url(published), {"lang": "sv"}, HTTP_ACCEPT_ENCODING="gzip")

    by_wave = rita.get(_wave_url(wave), {"lang": "sv"}, HTTP_ACCEPT_ENCODING="gzip")

    assert by_wave.status_code == 200
    assert (by_wave["ETag"], by_wave["Content-Language"], by_wave["Content-Encoding"]) == (
        by_version["ETag"],
        "sv",
        "gzip",
    )
    assert by_wave.content == by_version.content
    assert json.loads(gzip.decompress(by_wave.content))["version_id"] == published.pk


def test_a_wave_answers_304_to_its_current_etag(rita: APIClient, wave: Wave) -> None:
    first = rita.get(_wave_url(wave), HTTP_ACCEPT_LANGUAGE="ar")

    second = rita.get(_wave_url(wave), HTTP_ACCEPT_LANGUAGE="ar", HTTP_IF_NONE_MATCH=first["ETag"])

    assert (first.status_code, second.status_code, second.content) == (200, 304, b"")


def test_a_wave_without_a_version_has_no_questionnaire(rita: APIClient, study: Study) -> None:
    wave = services.wave_create(study=study, key="later", name={"en": "Later", "sv": "Senare", "ar": "لاحقا"})

    response = rita.get(_wave_url(wave))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- permissions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["version", "wave"])
@pytest.mark.parametrize(("persona", "status"), [("rita", 200), ("sara", 200), ("outsider", 404)])
def test_who_may_fetch_the_questionnaire(
    request: pytest.FixtureRequest, wave: Wave, target: str, persona: str, status: int
) -> None:
    client: APIClient = request.getfixturevalue(persona)
    url = _wave_url(wave) if target == "wave" else _version_url(wave.questionnaire_version)

    response = client.get(url)

    assert response.status_code == status


@pytest.mark.parametrize("target", ["version", "wave"])
def test_anonymous_may_not_fetch_the_questionnaire(anon: APIClient, wave: Wave, target: str) -> None:
    url = _wave_url(wave) if target == "wave" else _version_url(wave.questionnaire_version)

    response = anon.get(url)

    assert response.status_code == 401
    assert "sections" not in response.content.decode()


def test_an_outsider_cannot_tell_a_version_exists(
    outsider: APIClient, published: QuestionnaireVersion
) -> None:
    existing = outsider.get(_version_url(published))
    missing = outsider.get(f"/api/v1/versions/{published.pk + 1000}/questionnaire/")

    assert (existing.status_code, missing.status_code) == (404, 404)
    assert existing.json()["code"] == missing.json()["code"] == "not_found"
