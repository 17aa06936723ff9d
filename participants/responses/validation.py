"""Checking answers against the exact questionnaire version the participant saw.

A published version never changes, so it is compiled once per process (expressions parsed, choices as
sets) and reused by every submission.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from surveys import expressions
from surveys.models import Question, QuestionnaireVersion, QuestionType
from translations import messages
from translations.content import text_of

Answers = dict[str, Any]
MAX_TEXT_LENGTH = 5000


@dataclass(frozen=True)
class CompiledQuestion:
    variable: str
    type: str
    section: str
    required: bool
    relevance: expressions.Expression | None
    constraint: expressions.Expression | None
    constraint_messages: dict[str, str]
    choices: tuple[str, ...]
    special: frozenset[str]
    min_value: Decimal | None
    max_value: Decimal | None
    min_length: int | None
    max_length: int | None
    min_choices: int | None
    max_choices: int | None
    scale_min: int | None
    scale_max: int | None


@dataclass(frozen=True)
class CompiledVersion:
    version_id: int
    questions: tuple[CompiledQuestion, ...]
    sections: tuple[str, ...]
    by_variable: dict[str, CompiledQuestion] = field(hash=False)
    # Every ${name} a relevance or constraint expression reads: only these are kept as expression values.
    referenced: frozenset[str] = frozenset()

    def section_questions(self, key: str) -> list[CompiledQuestion]:
        return [question for question in self.questions if question.section == key]


def _compile_question(question: Question, languages: list[str]) -> CompiledQuestion:
    return CompiledQuestion(
        variable=question.variable,
        type=question.type,
        section=question.section.key,
        required=question.required,
        relevance=expressions.parse(question.relevance) if question.relevance else None,
        constraint=expressions.parse(question.constraint) if question.constraint else None,
        constraint_messages={code: text_of(question, "constraint_message", code) for code in languages},
        choices=tuple(choice.code for choice in question.choices.all()),
        special=frozenset(question.special_codes),
        min_value=question.min_value,
        max_value=question.max_value,
        min_length=question.min_length,
        max_length=question.max_length,
        min_choices=question.min_choices,
        max_choices=question.max_choices,
        scale_min=question.scale_min,
        scale_max=question.scale_max,
    )


@lru_cache(maxsize=32)
def _compiled(version_id: int, content_digest: str) -> CompiledVersion:
    version = QuestionnaireVersion.objects.select_related("questionnaire__study").get(pk=version_id)
    languages = list(version.questionnaire.study.languages)
    questions = (
        version.questions.select_related("section")
        .prefetch_related("choices")
        .order_by("section__position", "position")
    )
    compiled = tuple(_compile_question(question, languages) for question in questions)
    sections = tuple(version.sections.order_by("position").values_list("key", flat=True))
    referenced = frozenset(
        name
        for question in compiled
        for expression in (question.relevance, question.constraint)
        if expression is not None
        for name in expression.references
    )
    return CompiledVersion(
        version_id, compiled, sections, {question.variable: question for question in compiled}, referenced
    )


def compiled_version(version: QuestionnaireVersion) -> CompiledVersion:
    """Keyed by the content digest too, so a (never expected) change to a version is never served stale."""
    return _compiled(version.pk, version.content_digest)


@dataclass(frozen=True)
class AnswerError:
    variable: str
    code: str
    message: str  # in the participant's language
    detail: str  # in English, for developers of the phone app


class _Invalid(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# Numbers written as text: digits with an optional sign (and for decimals a point and an exponent). Python's
# int() and Decimal() also take "1_000" and surrounding spaces; \d takes any script's decimal digits, so an
# Arabic keyboard's "٢" is 2.
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
MAX_DECIMAL_DIGITS = 40  # of the stored form, which is written out without an exponent


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid("invalid_type", "Expected a whole number.")
    if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value.strip()):
        raise _Invalid("invalid_type", "Expected a whole number.")
    try:
        return int(value)
    except ValueError:
        raise _Invalid("invalid_type", "Expected a whole number.") from None


def _in_range(number: Decimal | int, low: Decimal | int | None, high: Decimal | int | None) -> None:
    if (low is not None and number < low) or (high is not None and number > high):
        raise _Invalid(
            "out_of_range",
            f"Must be between {low if low is not None else '-'} and {high if high is not None else '-'}.",
        )


def normalize(question: CompiledQuestion, value: Any) -> Any:
    """The stored form of one answer, or _Invalid saying why it cannot be one."""
    if isinstance(value, dict):
        special = value.get("special")
        if set(value) != {"special"} or not isinstance(special, str) or special not in question.special:
            raise _Invalid(
                "special_not_allowed", f"Special answers allowed here: {sorted(question.special) or 'none'}."
            )
        return {"special": special}
    kind = question.type
    if kind == QuestionType.NOTE:
        raise _Invalid("not_answerable", "A note takes no answer.")
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
        allowed = question.choices if kind == QuestionType.SINGLE_CHOICE else ("yes", "no")
        if not isinstance(value, str) or value not in allowed:
            raise _Invalid("invalid_choice", f"Expected one of {list(allowed)}.")
        return value
    if kind == QuestionType.MULTIPLE_CHOICE:
        if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
            raise _Invalid("invalid_type", "Expected a list of choice codes.")
        if len(set(value)) != len(value) or not set(value) <= set(question.choices):
            raise _Invalid("invalid_choice", f"Codes must be distinct and among {list(question.choices)}.")
        if question.min_choices is not None and len(value) < question.min_choices:
            raise _Invalid("too_few_choices", f"Choose at least {question.min_choices}.")
        if question.max_choices is not None and len(value) > question.max_choices:
            raise _Invalid("too_many_choices", f"Choose at most {question.max_choices}.")
        return [code for code in question.choices if code in value]
    if kind in (QuestionType.RATING, QuestionType.INTEGER):
        number = _as_int(value)
        low, high = (
            (question.scale_min, question.scale_max)
            if kind == QuestionType.RATING
            else (question.min_value, question.max_value)
        )
        _in_range(number, low, high)
        return number
    if kind == QuestionType.DECIMAL:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | str)
            or (isinstance(value, str) and (len(value) > 40 or not _DECIMAL_TEXT.fullmatch(value.strip())))
        ):
            raise _Invalid("invalid_type", "Expected a number.")
        try:
            decimal = Decimal(str(value).strip())
        except InvalidOperation:
            raise _Invalid("invalid_type", "Expected a number.") from None
        if not decimal.is_finite():
            raise _Invalid("invalid_type", "Expected a finite number.")
        _in_range(decimal, question.min_value, question.max_value)
        # Stored written out ("100000", not "1E+5"), and zero without a sign.
        exponent = int(decimal.as_tuple().exponent)  # an int: the number is finite
        if decimal.adjusted() >= MAX_DECIMAL_DIGITS or -exponent > MAX_DECIMAL_DIGITS:
            raise _Invalid("invalid_type", f"At most {MAX_DECIMAL_DIGITS} digits before and after the point.")
        return format(abs(decimal) if decimal.is_zero() else decimal, "f")
    if kind == QuestionType.TEXT:
        if not isinstance(value, str):
            raise _Invalid("invalid_type", "Expected text.")
        text = value.strip()
        limit = min(question.max_length or MAX_TEXT_LENGTH, MAX_TEXT_LENGTH)
        if len(text) > limit:
            raise _Invalid("too_long", f"At most {limit} characters.")
        if question.min_length is not None and len(text) < question.min_length:
            raise _Invalid("too_short", f"At least {question.min_length} characters.")
        return text
    if kind == QuestionType.DATE:
        if not isinstance(value, str) or len(value) != 10:
            raise _Invalid("invalid_type", "Expected a date as YYYY-MM-DD.")
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            raise _Invalid("invalid_type", "Expected a date as YYYY-MM-DD.") from None
    raise _Invalid("invalid_type", f"Unknown question type {kind}.")


def _expression_value(question: CompiledQuestion | None, value: Any) -> Any:
    """How an answer looks inside relevance and constraint expressions.

    Values not checked yet (later questions of the page) may be anything: what cannot be read is absent.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        special = value.get("special")
        return special if isinstance(special, str) else None
    try:
        if question is not None and question.type == QuestionType.DATE:
            return datetime.date.fromisoformat(value)
        if question is not None and question.type == QuestionType.DECIMAL:
            decimal = Decimal(str(value))
            return decimal if decimal.is_finite() else None
    except (TypeError, ValueError, InvalidOperation):
        return None
    if isinstance(value, list):
        return value if all(isinstance(code, str) for code in value) else None
    return value if isinstance(value, (str, int, float, bool)) else None


def expression_answers(version: CompiledVersion, answers: Answers) -> dict[str, Any]:
    """The answers that expressions of the version read, as they see them (the others are never looked up)."""
    return {
        name: _expression_value(version.by_variable.get(name), answers[name])
        for name in version.referenced
        if name in answers
    }


def is_relevant(question: CompiledQuestion, context: dict[str, Any]) -> bool:
    return question.relevance is None or expressions.evaluate(question.relevance, answers=context)


def _error(
    question: CompiledQuestion | None, variable: str, code: str, detail: str, language: str
) -> AnswerError:
    if code == "constraint" and question is not None:
        message = question.constraint_messages.get(language) or messages.message("invalid", language)
    else:
        message = messages.message("required" if code == "required" else "invalid", language)
    return AnswerError(variable=variable, code=code, message=message, detail=detail)


def validate(
    version: CompiledVersion, *, answers: Answers, questions: list[CompiledQuestion], language: str
) -> tuple[Answers, list[AnswerError]]:
    """Normalise ``answers`` for ``questions`` (in order), judged with everything answered so far.

    ``answers`` holds every answer of the response (earlier pages included); only ``questions`` are checked.
    Returns the normalised answers of the response and the errors, in questionnaire order.
    """
    normalized: Answers = dict(answers)
    errors: list[AnswerError] = []
    # The expression context is built once and kept in step with ``normalized`` as each question is
    # settled (rebuilding it per question made validation quadratic in the number of questions).
    context = expression_answers(version, normalized)

    def settle(variable: str, stored: Any = None) -> None:
        if stored is None:
            normalized.pop(variable, None)
            context.pop(variable, None)
        else:
            normalized[variable] = stored
            if variable in version.referenced:
                context[variable] = _expression_value(version.by_variable.get(variable), stored)

    for question in questions:
        value = normalized.get(question.variable)
        relevant = is_relevant(question, context)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            settle(question.variable)
            if relevant and question.required:
                errors.append(
                    _error(question, question.variable, "required", "An answer is required.", language)
                )
            continue
        if not relevant:
            settle(question.variable)
            detail = "This question does not apply given the earlier answers; leave it out."
            errors.append(_error(question, question.variable, "not_relevant", detail, language))
            continue
        try:
            stored = normalize(question, value)
        except _Invalid as invalid:
            settle(question.variable)
            errors.append(_error(question, question.variable, invalid.code, invalid.detail, language))
            continue
        if stored is not value:  # else both already hold it (most answers are stored as sent)
            settle(question.variable, stored)
        if question.constraint is not None and not isinstance(stored, dict):
            own = _expression_value(question, stored)
            if not expressions.evaluate(question.constraint, answers=context, self_value=own):
                errors.append(
                    _error(question, question.variable, "constraint", "The constraint is not met.", language)
                )
    return normalized, errors
