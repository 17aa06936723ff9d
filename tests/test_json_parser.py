"""The project's JSON parser refuses an unpaired UTF-16 surrogate escape ("\\ud800") anywhere in a body with a
400 naming where it is, before any view sees it; a correctly paired escape (an emoji) still goes through."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from backend.parsers import ProjectJSONParser, UnpairedSurrogate
from participants.models import Participant, Response, Submission
from participants.reminders.schedules import schedules_sync
from surveys import services
from surveys.models import Study, Wave
from tests.participants.responses.conftest import (
    VALID_ABOUT,
    answers_url,
    build_rich_version,
    page_body,
    phone_for,
)

GRINNING = "\U0001f600"
UNPAIRED = "holds an unpaired UTF-16 surrogate escape"


@pytest.fixture
def amira(amira_participant: Participant) -> APIClient:
    """Amira's phone; a server error comes back as a 500 response, so the assertions show it."""
    return phone_for(amira_participant)


@pytest.fixture
def text_wave(study: Study, sara_user: User, amira_participant: Participant) -> Wave:
    """A wave asking the rich questionnaire, whose page "about" has the text question HOPES."""
    wave = services.wave_create(
        study=study, key="baseline", name={"en": "Baseline", "sv": "Baslinje", "ar": "خط الأساس"},
        questionnaire_version=build_rich_version(study, sara_user), anchor="enrollment", window_days=60,
    )  # fmt: skip
    schedules_sync(participant=amira_participant)
    return wave


def post_raw(client: APIClient, wave: Wave, body: dict[str, Any]) -> Any:
    """The body as a phone's JSON library writes it: anything outside ASCII as \\u escapes, unpaired or not."""
    raw = json.dumps(body, ensure_ascii=True)
    return client.post(answers_url(wave), data=raw, content_type="application/json")


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        pytest.param({"HOPES": "\ud800"}, "answers.HOPES", id="lone-high-surrogate"),
        pytest.param({"HOPES": "a quiet \udfff life"}, "answers.HOPES", id="lone-low-surrogate-inside-text"),
        pytest.param({"HOPES": "\ude00\ud83d"}, "answers.HOPES", id="halves-of-a-pair-in-the-wrong-order"),
        pytest.param({"LANGS": ["ar", "\udbff"]}, "answers.LANGS[1]", id="inside-a-list"),
    ],
)
def test_an_answer_with_an_unpaired_surrogate_is_refused_with_400_and_nothing_is_stored(
    text_wave: Wave, study_key: Any, amira: APIClient, answers: dict[str, Any], field: str
) -> None:
    # given
    submission_id = str(uuid.uuid4())
    # when
    refused = post_raw(
        amira, text_wave, page_body("about", {**VALID_ABOUT, **answers}, submission_id=submission_id)
    )
    # then
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": refused.json()["detail"],
        "code": "unpaired_surrogate",
        "field": field,
    }
    assert refused.json()["detail"].startswith(f"{field}: the text {UNPAIRED}")
    assert (Submission.objects.count(), Response.objects.count()) == (0, 0)
    # and the same page with valid text, under the same submission id, is then taken as a first attempt
    retried = post_raw(amira, text_wave, page_body("about", VALID_ABOUT, submission_id=submission_id))
    assert (retried.status_code, retried.json()["status"], retried.json()["replayed"]) == (
        200,
        "accepted",
        False,
    )
    assert (Submission.objects.count(), Response.objects.count()) == (1, 1)


def test_the_escape_is_recognised_in_upper_case_hex_too(
    text_wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # given the escape as some JSON writers spell it
    raw = json.dumps(page_body("about", {**VALID_ABOUT, "HOPES": "\ud800"})).replace("\\ud800", "\\uD800")
    assert "\\uD800" in raw
    # when
    response = amira.post(answers_url(text_wave), data=raw, content_type="application/json")
    # then
    assert (response.status_code, response.json()["field"]) == (400, "answers.HOPES")
    assert Response.objects.count() == 0


def test_a_variable_name_with_an_unpaired_surrogate_is_refused_with_a_utf8_json_reply(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    # when
    response = post_raw(amira, wave, page_body("family", {"Q1": "1", "Q\ud800": 4}))
    # then the reply names the object holding the key, without repeating the key
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    problem = json.loads(response.content.decode("utf-8"))
    assert problem == {
        "detail": f"a key of answers: the text {UNPAIRED} (\\ud800-\\udfff without its other half), which is not "
        "valid Unicode; send the characters as UTF-8 or as a complete pair.",
        "code": "unpaired_surrogate",
        "field": "answers",
    }
    assert b"Q\\ud800" not in response.content
    assert (Submission.objects.count(), Response.objects.count()) == (0, 0)


def test_a_top_level_key_with_an_unpaired_surrogate_is_refused(wave: Wave, amira: APIClient) -> None:
    response = post_raw(amira, wave, {**page_body("family", {"Q1": "1", "Q49": 4}), "\udc00": 1})
    assert response.status_code == 400
    assert "field" not in response.json()
    assert response.json()["detail"].startswith(f"a key at the top level of the body: the text {UNPAIRED}")


@pytest.mark.parametrize("spelling", ["\\ud83d\\ude00", "\\uD83D\\uDE00"])
def test_an_emoji_sent_as_a_surrogate_pair_escape_is_stored_as_the_emoji(
    text_wave: Wave, study_key: Any, amira: APIClient, spelling: str
) -> None:
    # given
    raw = json.dumps(page_body("about", {**VALID_ABOUT, "HOPES": f"peace {GRINNING}"})).replace(
        "\\ud83d\\ude00", spelling
    )
    assert spelling in raw
    # when
    response = amira.post(answers_url(text_wave), data=raw, content_type="application/json")
    # then
    assert (response.status_code, response.json()["status"]) == (200, "accepted")
    assert amira.get(answers_url(text_wave)).json()["answers"]["HOPES"] == f"peace {GRINNING}"


@pytest.mark.parametrize(
    ("charset", "hopes"),
    [
        pytest.param(
            "unicode_escape", b"\\ud800x", id="unicode_escape-decodes-an-escape-to-a-lone-surrogate"
        ),
        pytest.param("raw_unicode_escape", b"\\ud800x", id="raw_unicode_escape"),
        pytest.param("utf-7", b"+2AA-", id="utf-7-spells-a-lone-surrogate-without-an-escape"),
        pytest.param("latin-1", "Ã¤".encode("latin-1"), id="latin-1"),
    ],
)
def test_a_body_in_another_charset_than_utf8_is_refused_and_nothing_is_stored(
    text_wave: Wave, study_key: Any, amira: APIClient, charset: str, hopes: bytes
) -> None:
    # given a page whose text answer, in that charset, is a lone surrogate (or other text)
    body = json.dumps(page_body("about", {**VALID_ABOUT, "HOPES": "@@"})).encode().replace(b"@@", hopes)
    # when
    refused = amira.generic(
        "POST", answers_url(text_wave), body, content_type=f"application/json; charset={charset}"
    )
    # then
    assert refused.status_code == 400
    assert refused.json()["code"] == "unsupported_charset"
    assert refused.json()["detail"].startswith("charset: ")
    assert (Submission.objects.count(), Response.objects.count()) == (0, 0)


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "utf_8"])
def test_utf8_named_any_way_is_read(text_wave: Wave, study_key: Any, amira: APIClient, charset: str) -> None:
    body = json.dumps(page_body("about", {**VALID_ABOUT, "HOPES": "سلام"}), ensure_ascii=False).encode()
    taken = amira.generic(
        "POST", answers_url(text_wave), body, content_type=f"application/json; charset={charset}"
    )
    assert (taken.status_code, taken.json()["status"]) == (200, "accepted")
    assert amira.get(answers_url(text_wave)).json()["answers"]["HOPES"] == "سلام"


def test_malformed_json_is_still_a_400_in_the_problem_format(wave: Wave, amira: APIClient) -> None:
    response = amira.post(answers_url(wave), data='{"section": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": response.json()["detail"], "code": "parse_error"}
    assert response.json()["detail"].startswith("JSON parse error - ")


# --- the parser alone ---------------------------------------------------------------------------------------


def _with_surrogate(text: str, surrogate: str, position: int) -> str:
    position = min(position, len(text))
    return text[:position] + surrogate + text[position:]


SURROGATES = st.integers(min_value=0xD800, max_value=0xDFFF).map(chr)
TEXTS = st.text(max_size=8) | st.builds(_with_surrogate, st.text(max_size=8), SURROGATES, st.integers(0, 8))
JSON_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXTS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXTS, children, max_size=4),
    max_leaves=12,
)


def _is_unicode(text: str) -> bool:
    """Independent of the parser: UTF-16 code units that decode back to text pair every surrogate."""
    try:
        text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return False
    return True


def _holds_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return not _is_unicode(value)
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(key) or _holds_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_lone_surrogate(item) for item in value)
    return False


def _parse(raw: str) -> Any:
    return ProjectJSONParser().parse(io.BytesIO(raw.encode("utf-8")), "application/json", {})


@settings(max_examples=300, deadline=None)
@given(JSON_DOCUMENTS)
def test_the_parser_accepts_a_document_exactly_when_it_holds_no_unpaired_surrogate(document: Any) -> None:
    # given the body as written with \u escapes; what arrives is what json.loads makes of it (two halves of a
    # pair injected side by side arrive as one character)
    raw = json.dumps(document, ensure_ascii=True)
    arriving = json.loads(raw)
    # when / then
    if _holds_lone_surrogate(arriving):
        with pytest.raises(UnpairedSurrogate) as refused:
            _parse(raw)
        assert UNPAIRED in str(refused.value.detail)
        assert _is_unicode(str(refused.value.detail))
    else:
        assert _parse(raw) == arriving


def test_a_body_nested_as_deep_as_json_allows_is_checked_without_exhausting_the_stack() -> None:
    depth = 900
    raw = "[" * depth + '"\\ud800"' + "]" * depth
    with pytest.raises(UnpairedSurrogate) as refused:
        _parse(raw)
    assert refused.value.field.startswith("[0][0]")


def test_a_body_without_a_surrogate_range_escape_is_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a walk that would fail the test if it ran
    def walk(document: Any) -> None:
        raise AssertionError("walked")

    monkeypatch.setattr("backend.parsers.check_no_lone_surrogate", walk)
    # when escapes just outside the surrogate range, and text sent as UTF-8, are parsed
    parsed = _parse(f'{{"text": "\\u00e9 \\ud7ff \\ue000 {GRINNING}"}}')
    # then
    assert parsed == {"text": f"\u00e9 \ud7ff \ue000 {GRINNING}"}


def test_a_body_over_the_size_limit_is_a_413_in_the_problem_format(
    text_wave: Wave, study_key: Any, amira: APIClient, settings: Any
) -> None:
    # given
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    body = json.dumps(page_body("about", {**VALID_ABOUT, "HOPES": "x" * 200_000}))
    # when
    refused = amira.post(answers_url(text_wave), data=body, content_type="application/json")
    # then
    assert (refused.status_code, refused["Content-Type"]) == (413, "application/json")
    assert refused.json()["code"] == "body_too_large"
    assert "larger than 100,000 bytes" in refused.json()["detail"]
    assert Response.objects.count() == 0
