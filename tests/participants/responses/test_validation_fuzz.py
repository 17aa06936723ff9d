"""Hypothesis: whatever JSON a phone sends as an answer, validation answers with errors, never a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from participants.responses import validation
from surveys.models import QuestionnaireVersion, Wave
from tests.participants.responses.conftest import STORED_ABOUT, answers_url, page_body

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KNOWN_CODES = {
    "required", "not_relevant", "invalid_type", "invalid_choice", "too_few_choices", "too_many_choices",
    "out_of_range", "too_long", "too_short", "special_not_allowed", "not_answerable", "constraint",
    "not_in_section",
}  # fmt: skip
PLAUSIBLE = [
    "1",
    "2",
    "9",
    "ar",
    "sv",
    "yes",
    "no",
    "-1",
    "-2",
    "7",
    "12.5",
    "1e3",
    "2020-05-17",
    "2020-02-30",
    "",
]
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(PLAUSIBLE)
)
JSON_WITHOUT_OBJECTS = st.recursive(LEAVES, lambda children: st.lists(children, max_size=5), max_leaves=10)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["special", "code"]) | st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)

QUESTIONS = [
    pytest.param("INTRO", id="note"),
    pytest.param("ORIGIN", id="single_choice"),
    pytest.param("LANGS", id="multiple_choice"),
    pytest.param("TRUST", id="rating"),
    pytest.param("CHILDREN", id="integer"),
    pytest.param("INCOME", id="decimal"),
    pytest.param("HOPES", id="text"),
    pytest.param("ARRIVED", id="date"),
    pytest.param("RELIGIOUS", id="yes_no"),
    pytest.param("PRAYERS", id="integer-with-relevance"),
]


@pytest.fixture
def compiled(rich_version: QuestionnaireVersion) -> validation.CompiledVersion:
    return validation.compiled_version(rich_version)


def _check_page(compiled: validation.CompiledVersion, variable: str, value: Any) -> None:
    """Validate the page holding ``variable`` with every other answer valid; check what a page promises."""
    question = compiled.by_variable[variable]
    page = compiled.section_questions(question.section)
    normalized, errors = validation.validate(
        compiled, answers={**STORED_ABOUT, variable: value}, questions=page, language="ar"
    )
    assert {error.variable for error in errors} <= {variable}
    assert {error.code for error in errors} <= KNOWN_CODES
    assert all(error.message for error in errors)
    json.dumps(normalized)  # the draft is stored as JSON
    if not errors:
        # what a page accepted, completion accepts unchanged
        again, later_errors = validation.validate(compiled, answers=normalized, questions=page, language="ar")
        assert (again, later_errors) == (normalized, [])


@pytest.mark.parametrize("variable", QUESTIONS)
@FUZZ
@given(value=JSON_WITHOUT_OBJECTS)
def test_any_json_value_but_an_object_is_either_accepted_stably_or_refused_with_a_known_code(
    compiled: validation.CompiledVersion, variable: str, value: Any
) -> None:
    _check_page(compiled, variable, value)


@FUZZ
@given(variable=st.sampled_from([str(param.values[0]) for param in QUESTIONS]), value=JSON_VALUES)
def test_any_json_value_including_objects_is_either_accepted_stably_or_refused_with_a_known_code(
    compiled: validation.CompiledVersion, variable: str, value: Any
) -> None:
    _check_page(compiled, variable, value)


@FUZZ
@given(
    section=st.sampled_from(["about", "faith", "nowhere"]),
    answers=st.dictionaries(
        st.sampled_from([str(param.values[0]) for param in QUESTIONS]) | st.text(max_size=8),
        JSON_VALUES,
        max_size=6,
    ),
)
def test_random_pages_through_the_api_never_cause_a_server_error(
    rich_wave: Wave, study_key: Any, amira: APIClient, section: str, answers: dict[str, Any]
) -> None:
    # each example is rolled back, so every page is judged against an empty response
    with transaction.atomic():
        response = amira.post(answers_url(rich_wave), page_body(section, answers), format="json")
        transaction.set_rollback(True)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        body = response.json()
        if "code" in body:
            assert body["code"] in ("invalid_answers", "invalid")
            assert {error["code"] for error in body.get("details", {}).get("errors", [])} <= KNOWN_CODES
        else:  # refused by the input serializer (a null answer), in DRF's own shape
            assert list(body) == ["answers"]
