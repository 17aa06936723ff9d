"""Behaviour of the XLSForm expression language: parsing, limits, checking, rendering, evaluation."""

from __future__ import annotations

import datetime
import math
import pickle
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from surveys.expressions import (
    AnswerValue,
    Binary,
    Call,
    Expression,
    ExpressionError,
    Negate,
    Node,
    Number,
    Ref,
    SelfRef,
    String,
    check,
    evaluate,
    parse,
    to_source,
)

FEB_1 = datetime.date(2024, 2, 1)


def run(source: str, answers: dict[str, Any] | None = None, self_value: Any = None) -> bool:
    return evaluate(parse(source), answers=answers or {}, self_value=self_value)


def parse_error(source: str, **limits: int) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(source, **limits)
    return caught.value


# --- Evaluation ----------------------------------------------------------------------------------

OPERATOR_CASES = [
    ("1 + 2 * 3 = 7", True),
    ("(1 + 2) * 3 = 9", True),
    ("1 + 2 * 3 = 9", False),
    ("10 - 4 - 3 = 3", True),
    ("12 div 3 div 2 = 2", True),
    ("7 div 2 = 3.5", True),
    ("7 mod 3 = 1", True),
    ("-7 mod 3 = -1", True),
    ("7 mod -3 = 1", True),
    ("5.5 mod 2 = 1.5", True),
    ("-2 * 3 = -6", True),
    ("- -2 = 2", True),
    ("2 - -2 = 4", True),
    ("-(1 + 2) = -3", True),
    ("0.5 = .5", True),
    ("1. = 1", True),
    ("1 + 2 = 3 and 2 * 2 = 4", True),
    ("true() or false() and false()", True),
    ("(true() or false()) and false()", False),
    ("false() and true() or true()", True),
    ("false() or false()", False),
    ("1 < 2 = true()", True),
    ("3 > 2 > 1", False),
    ("1 = 1 != 0", True),
    ("2 < 10", True),
    ("2 <= 2", True),
    ("3 >= 4", False),
    ("3 > 2", True),
    ("2 != 2", False),
    ("1 = 1.0", True),
    ("'2' < '10'", True),
    ("'b' > 'a'", False),
    ("'b' != 'a'", True),
    ("'1.0' = '1'", False),
    ("'1.0' = 1", True),
    ("'abc' = \"abc\"", True),
    ("' 5 ' = 5", True),
    ("'5 apples' = 5", False),
    ("'1e3' = 1000", False),
    ("'abc'", True),
    ("''", False),
    ("0", False),
    ("-0", False),
    ("2.5", True),
    ("'false'", True),
    ("'0'", True),
    ("1 div 0 > 1000000", True),
    ("-1 div 0 < -1000000", True),
    ("1 div -0 < 0", True),
    ("0 div 0 = 0 div 0", False),
    ("0 div 0 != 0 div 0", True),
    ("0 div 0", False),
    ("1 div 0", True),
    ("1 div 0 - 1 div 0 = 0", False),
    ("5 mod 0 = 5 mod 0", False),
    ("(1 div 0) mod 2 = (1 div 0) mod 2", False),
    ("5 mod (1 div 0) = 5", True),
    ("not(1 = 2)", True),
    ("not(false())", True),
    ("not('x')", False),
    ("true()", True),
    ("false()", False),
    ("false() = 0", True),
    ("true() = 'anything'", True),
    ("number('3.5') = 3.5", True),
    ("number('-.5') = -0.5", True),
    ("number('+5') = 5", False),
    ("number('abc') = number('abc')", False),
    ("number(true()) = 1", True),
    ("int(3.9) = 3", True),
    ("int(-3.9) = -3", True),
    ("int('7.2') = 7", True),
    ("int(1 div 0) > 1000000", True),
    ("int(0 div 0) = int(0 div 0)", False),
    ("string-length('héllo') = 5", True),
    ("string-length(3.50) = 3", True),
    ("string-length(100) = 3", True),
    ("string-length(0.1 + 0.2) = 19", True),
    ("string-length(123456789012345678901234) = 24", True),
    ("string-length(0.0000001) = 9", True),
    ("string-length(true()) = 4", True),
    ("string-length(1 div 0) = 8", True),
    ("string-length(-1 div 0) = 9", True),
    ("string-length(0 div 0) = 3", True),
    ("string-length(-0) = 1", True),
    ("if(1 > 2, 'a', 'b') = 'b'", True),
    ("coalesce('', 'b') = 'b'", True),
    ("coalesce('a', 'b') = 'a'", True),
    ("date('2024-02-01') = '2024-02-01'", True),
    ("number(date('1970-01-02')) = 1", True),
    ("date(0) = '1970-01-01'", True),
    ("date(19723.9) = date('2024-01-01')", True),
    ("date(-1) = '1969-12-31'", True),
    ("date(1 div 0)", False),
    ("date(99999999999)", False),
    ("string-length(date('2024-02-01')) = 10", True),
    ("date('2024-02-01') - date('2024-01-01') = 31", True),
    ("date('2024-02-01') > date('2024-01-31')", True),
]


@pytest.mark.parametrize(("source", "expected"), OPERATOR_CASES)
def test_operators_and_functions_follow_xpath(source: str, expected: bool) -> None:
    assert run(source) is expected


ANSWER_CASES: list[tuple[str, dict[str, Any], bool]] = [
    # missing answers are ''
    ("${Q1} = ''", {}, True),
    ("${Q1} = ''", {"Q1": None}, True),
    ("${Q1} > 0", {}, False),
    ("${Q1} < 0", {}, False),
    ("${Q1} = 0", {}, False),
    ("${Q1} != 0", {}, True),
    ("${Q1}", {}, False),
    ("not(${Q1})", {}, True),
    ("string-length(${Q1}) = 0", {}, True),
    ("${Q1} + 1 = ${Q1} + 1", {}, False),
    ("coalesce(${Q1}, 'fallback') = 'fallback'", {}, True),
    ("coalesce(${Q1}, 'fallback') = 'v'", {"Q1": "v"}, True),
    ("if(${Q1} = 'x', 1, 2) = 1", {"Q1": "x"}, True),
    ("if(${Q1} = 'x', 1, 2) = 2", {}, True),
    # text and numbers
    ("${Q1} = 5", {"Q1": "5"}, True),
    ("${Q1} = '5'", {"Q1": 5}, True),
    ("${Q1} > 3", {"Q1": "abc"}, False),
    ("${Q1} >= 18", {"Q1": 18}, True),
    ("${Q1} * 2 = 5", {"Q1": Decimal("2.5")}, True),
    ("${Q1} = 0.5", {"Q1": 0.5}, True),
    ("${Q1} > 1000000", {"Q1": 10**400}, True),
    ("${Q1} < -1000000", {"Q1": -(10**400)}, True),
    ("${Q1} = ${Q1}", {"Q1": Decimal("NaN")}, False),
    ("${Q1} = ${Q1}", {"Q1": Decimal("sNaN")}, False),
    ("${Q1} = 'yes'", {"Q1": "yes"}, True),
    ("${Q1} = 'no'", {"Q1": "yes"}, False),
    # Python booleans are XPath booleans
    ("${Q1}", {"Q1": True}, True),
    ("${Q1}", {"Q1": False}, False),
    ("${Q1} = true()", {"Q1": False}, False),
    ("${Q1} = 1", {"Q1": True}, True),
    ("${Q1} = 'no'", {"Q1": True}, True),
    ("${Q1} + 1 = 2", {"Q1": True}, True),
    ("string-length(${Q1}) = 5", {"Q1": False}, True),
    # multiple choice
    ("selected(${Q1}, 'b')", {"Q1": ["a", "b"]}, True),
    ("selected(${Q1}, 'c')", {"Q1": ["a", "b"]}, False),
    ("selected(${Q1}, 'b')", {"Q1": ("b",)}, True),
    ("selected(${Q1}, 'b')", {"Q1": "b"}, True),
    ("selected(${Q1}, 'b')", {"Q1": "a b"}, False),
    ("selected(${Q1}, 'New York')", {"Q1": "New York"}, True),
    ("selected(${Q1}, '')", {}, False),
    ("selected(${Q1}, 3)", {"Q1": ["3"]}, True),
    ("selected(${Q1}, '3')", {"Q1": 3}, True),
    ("selected(${Q1}, 'true')", {"Q1": True}, True),
    ("count-selected(${Q1}) = 2", {"Q1": ["a", "b"]}, True),
    ("count-selected(${Q1}) = 0", {"Q1": []}, True),
    ("count-selected(${Q1}) = 0", {}, True),
    ("count-selected(${Q1}) = 1", {"Q1": "a b"}, True),
    ("${Q1} = 'a b'", {"Q1": ["a", "b"]}, True),
    ("string-length(${Q1}) = 3", {"Q1": ["a", "b"]}, True),
    ("${Q1}", {"Q1": []}, False),
    ("${Q1} = 3", {"Q1": ["3"]}, True),
    # dates
    ("${D} < date('2024-03-01')", {"D": FEB_1}, True),
    ("${D} = date('2024-02-01')", {"D": FEB_1}, True),
    ("${D} = '2024-02-01'", {"D": FEB_1}, True),
    ("'2024-02-01' = ${D}", {"D": FEB_1}, True),
    ("${D} != '2024-02-02'", {"D": FEB_1}, True),
    ("${D} = 'not a date'", {"D": FEB_1}, False),
    ("${D} != 'not a date'", {"D": FEB_1}, True),
    ("${D} > '2024-01-31'", {"D": FEB_1}, True),
    ("${D} < '2024-01-31'", {"D": FEB_1}, False),
    ("${D} - date('2024-01-01') = 31", {"D": FEB_1}, True),
    ("${D} = 19754", {"D": FEB_1}, True),
    ("${D} + 1 > ${D}", {"D": FEB_1}, True),
    ("${D}", {"D": FEB_1}, True),
    ("${D} = date('2024-02-01')", {"D": datetime.datetime(2024, 2, 1, 23, 30)}, True),
    ("${D} = ''", {}, True),
    ("${D} < date('2024-03-01')", {}, False),
    ("${D} > date('2024-03-01')", {}, False),
    ("date(${S}) = date('2024-02-01')", {"S": "2024-02-01"}, True),
    ("date(${S}) = ''", {}, True),
    ("date(${S})", {"S": "garbage"}, False),
    ("date(${S})", {"S": "2023-02-30"}, False),
    # values outside the declared types count as missing
    ("${Q1} = ''", {"Q1": object()}, True),
    ("count-selected(${Q1}) = 2", {"Q1": ["a", 3, ["nested"], None]}, False),
    ("${Q1} = 'a 3 '", {"Q1": ["a", 3, ["nested"], None]}, True),
]


@pytest.mark.parametrize(("source", "answers", "expected"), ANSWER_CASES)
def test_answers_are_converted_like_xforms_values(
    source: str, answers: dict[str, Any], expected: bool
) -> None:
    assert run(source, answers) is expected


SELF_CASES: list[tuple[str, Any, bool]] = [
    (". > 0", 5, True),
    (". > 0", None, False),
    (". >= 18 and . <= 120", 17, False),
    (". >= 18 and . <= 120", 30, True),
    (". = ''", None, True),
    ("string-length(.) <= 3", "abcd", False),
    ("string-length(.) <= 3", "abc", True),
    ("selected(., 'x')", ["x"], True),
    (". <= date('2024-02-01')", FEB_1, True),
    ("-. = -5", "5", True),
]


@pytest.mark.parametrize(("source", "self_value", "expected"), SELF_CASES)
def test_dot_is_the_questions_own_answer(source: str, self_value: Any, expected: bool) -> None:
    assert run(source, {".": "not used"}, self_value) is expected


def test_today_is_the_current_local_date() -> None:
    with time_machine.travel(datetime.datetime(2024, 3, 15, 12, tzinfo=datetime.UTC), tick=False):
        assert run("today() = date('2024-03-15')") is True
        assert run("today() - ${dob} = 365", {"dob": datetime.date(2023, 3, 16)}) is True
        assert run("${d} <= today()", {"d": "2024-03-16"}) is False


def test_if_and_coalesce_evaluate_only_what_they_return() -> None:
    class Exploding(dict[str, AnswerValue]):
        def get(self, key: str, default: Any = None) -> Any:
            if key == "boom":
                raise AssertionError("evaluated the branch not taken")
            return super().get(key, default)

    answers = Exploding(a="x")
    assert evaluate(parse("if(${a} = 'x', 1, ${boom})"), answers=answers) is True
    assert evaluate(parse("coalesce(${a}, ${boom})"), answers=answers) is True
    assert evaluate(parse("${a} = 'x' or ${boom}"), answers=answers) is True
    assert evaluate(parse("${a} = 'y' and ${boom}"), answers=answers) is False


def test_long_operator_chains_evaluate_without_deep_recursion() -> None:
    source = "1" + " + 1" * 248 + " = 249"
    assert run(source) is True
    assert run(" or ".join(["false()"] * 125)) is False


# --- Parsing -------------------------------------------------------------------------------------


def test_parse_builds_an_immutable_tree_with_xpath_precedence() -> None:
    expression = parse("${a} = 1 or -${b} * 2 > . and not(selected(${a}, 'x'))")

    assert expression == Expression(
        source="${a} = 1 or -${b} * 2 > . and not(selected(${a}, 'x'))",
        root=Binary(
            "or",
            Binary("=", Ref("a"), Number(1.0)),
            Binary(
                "and",
                Binary(">", Binary("*", Negate(Ref("b")), Number(2.0)), SelfRef()),
                Call("not", (Call("selected", (Ref("a"), String("x"))),)),
            ),
        ),
        references=frozenset({"a", "b"}),
        uses_self=True,
    )
    with pytest.raises(AttributeError):
        expression.root.op = "and"  # type: ignore[union-attr, misc]


def test_references_keep_their_position_for_messages_but_compare_by_name() -> None:
    root = parse("1 = ${Q1}").root
    assert isinstance(root, Binary)
    assert root.right == Ref("Q1", 4)
    assert isinstance(root.right, Ref)
    assert root.right.position == 4
    assert Ref("Q1", 4) == Ref("Q1", 9)
    assert hash(Ref("Q1", 4)) == hash(Ref("Q1", 9))


def test_whitespace_and_names_with_dots_and_hyphens_are_accepted() -> None:
    expression = parse(" \t${_a.b-c1}\r\n=\n'x' ")
    assert expression.references == frozenset({"_a.b-c1"})
    assert expression.uses_self is False
    assert parse("8 mod-3 = 2").root == Binary(
        "=", Binary("mod", Number(8.0), Negate(Number(3.0))), Number(2.0)
    )


ERROR_CASES: list[tuple[str, str, int | None]] = [
    ("", "Expression is empty", None),
    (" \t\r\n", "Expression is empty", None),
    ("1" * 2001, "Expression is too long (2001 characters; the maximum is 2000)", 2000),
    (
        "foo(1)",
        "Unknown function 'foo()' (at character 1); allowed functions are coalesce(), count-selected(), "
        "date(), false(), if(), int(), not(), number(), selected(), string-length(), today(), true()",
        0,
    ),
    ("1 + concat('a')", "Unknown function 'concat()' (at character 5); allowed functions are", 4),
    ("NOT(1)", "Unknown function 'NOT()' (at character 1)", 0),
    ("selected(${Q1})", "selected() takes 2 arguments but was given 1 (at character 1)", 0),
    ("true(1)", "true() takes no arguments but was given 1 (at character 1)", 0),
    ("1 and not(1, 2)", "not() takes 1 argument but was given 2 (at character 7)", 6),
    ("if(1, 2)", "if() takes 3 arguments but was given 2 (at character 1)", 0),
    ("${Q1} = 'abc", "Unterminated text (at character 9); the ' that starts it is never closed", 8),
    ('"abc', 'Unterminated text (at character 1); the " that starts it is never closed', 0),
    ("'it's'", "Unterminated text (at character 6)", 5),
    ("1 # 2", "Unexpected character '#' (at character 3)", 2),
    ("1 / 2", "Unexpected character '/' (at character 3); use 'div' to divide", 2),
    ("1 % 2", "Unexpected character '%' (at character 3); use 'mod' for the remainder", 2),
    ("1 && 2", "Unexpected character '&' (at character 3); use 'and'", 2),
    ("!(1)", "Unexpected character '!' (at character 1); use '!=' or not()", 0),
    ("1 == 1", "Unexpected '==' (at character 3); use a single '=' to compare", 2),
    ("1\u00a0+ 2", "Unexpected character U+00A0 (at character 2); this is a non-breaking space", 1),
    ("\u2018yes\u2019", "Unexpected character '\u2018' (at character 1); use straight quotes ' or \"", 0),
    ("1 2", "Unexpected number 2 (at character 3); expected an operator such as 'and', 'or', '=' or '+'", 2),
    ("${Q1} = 1 'x'", "Unexpected text 'x' (at character 11); expected an operator", 10),
    ("1 = 1 ${Q2}", "Unexpected ${Q2} (at character 7); expected an operator", 6),
    ("(1 + 2))", "Unmatched ')' (at character 8); there is no '(' before it", 7),
    (
        "(1 + 2",
        "Unexpected end of expression (at character 7); expected ')'; the '(' at character 1 is not closed",
        6,
    ),
    (
        "(1 + 2 3)",
        "Unexpected number 3 (at character 8); expected ')'; the '(' at character 1 is not closed",
        7,
    ),
    ("1 +", "Unexpected end of expression (at character 4); expected a value", 3),
    ("* 2", "Unexpected '*' (at character 1); expected a value such as a number, 'text' or ${name}", 0),
    ("()", "Unexpected ')' (at character 2); expected a value", 1),
    (
        "selected(${Q1} 'a')",
        "Unexpected text 'a' (at character 16); expected ',' or ')' in selected(); "
        "the '(' at character 9 is not closed",
        15,
    ),
    ("not(1,)", "Unexpected ')' (at character 7); expected a value", 6),
    ("not(", "Unexpected end of expression (at character 5); expected a value", 4),
    ("today(", "Unexpected end of expression (at character 7); expected a value", 6),
    ("today(1", "Unexpected end of expression (at character 8); expected ',' or ')' in today()", 7),
    ("true", "Function 'true' needs brackets (at character 1); write true()", 0),
    ("not 1", "Function 'not' needs brackets (at character 1); write not(...)", 0),
    ("age > 3", "Unknown name 'age' (at character 1); to use the answer to a question write ${age}", 0),
    ("and 1", "Unexpected 'and' (at character 1); expected a value before it", 0),
    ("1 or or 2", "Unexpected 'or' (at character 6); expected a value before it", 5),
    ("..", "Unexpected '.' (at character 2); expected an operator", 1),
    ("${Q1", "Unterminated question reference (at character 1); '${' needs a closing '}'", 0),
    ("${", "Unterminated question reference (at character 1)", 0),
    ("${}", "Empty question reference '${}' (at character 1)", 0),
    ("${1a} = 1", "Invalid question name (at character 3); names start with a letter or underscore", 2),
    (
        "${Q 1}",
        "Invalid character in question name (at character 4); names use letters, digits, _ . and -",
        3,
    ),
    ("$Q1", "Unexpected character '$' (at character 1); refer to a question as ${name}", 0),
    ("${" + "a" * 65 + "}", "Question name is too long (more than 64 characters) (at character 3)", 2),
    (
        "date('2023-02-30')",
        "Invalid date '2023-02-30' (at character 6); write an existing date as 'YYYY-MM-DD'",
        5,
    ),
    ("date('01/02/2023')", "Invalid date '01/02/2023' (at character 6)", 5),
    ("1" + "0" * 400, "Number is too large (at character 1)", 0),
    ("'" + "a" * 501 + "'", "Text in quotes is too long (more than 500 characters) (at character 1)", 0),
    (
        "(" * 33 + "1" + ")" * 33,
        "Expression is nested too deeply (more than 32 levels of brackets, functions or "
        "minus signs) (at character 33)",
        32,
    ),
    ("not(" * 33 + "1" + ")" * 33, "Expression is nested too deeply", 128),
    ("-" * 33 + "1", "Expression is nested too deeply", 32),
    ("-(" * 17 + "1" + ")" * 17, "Expression is nested too deeply", 32),
    ("1" + " + 1" * 300, "Expression is too complex (more than 500 parts) (at character 1001)", 1000),
]


@pytest.mark.parametrize(("source", "message", "position"), ERROR_CASES)
def test_invalid_expressions_are_rejected_with_what_and_where(
    source: str, message: str, position: int | None
) -> None:
    error = parse_error(source)
    assert error.message.startswith(message)
    assert str(error) == error.message
    assert error.position == position


def test_limits_allow_expressions_right_at_the_limit() -> None:
    assert parse("(" * 32 + "1" + ")" * 32).root == Number(1.0)
    assert parse("'" + "a" * 500 + "'").root == String("a" * 500)
    assert parse("${" + "a" * 64 + "}").references == frozenset({"a" * 64})
    assert len(parse("1" + " + 1" * 249).source) == 997
    assert parse("1" + " " * 1999).root == Number(1.0)


def test_limits_are_configurable() -> None:
    assert (
        parse_error("1 + 1", max_length=4).message
        == "Expression is too long (5 characters; the maximum is 4)"
    )
    assert parse_error("((1))", max_depth=1).position == 1
    assert parse("(" * 100 + "1" + ")" * 100, max_depth=100).root == Number(1.0)


@pytest.mark.parametrize("max_depth", [0, 101])
def test_depth_limits_beyond_the_safe_range_are_a_programming_error(max_depth: int) -> None:
    with pytest.raises(ValueError, match="max_depth must be between 1 and 100") as caught:
        parse("1", max_depth=max_depth)
    assert type(caught.value) is ValueError


def test_expression_errors_survive_pickling() -> None:
    error = parse_error("1 +")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (type(copy), copy.message, copy.position) == (ExpressionError, error.message, 3)


# --- Hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("(" * 100_000 + "1" + ")" * 100_000, "Expression is too long (200001 characters"),
        ("not(" * 5000 + "1" + ")" * 5000, "Expression is too long (25001 characters"),
        ("-" * 100_000 + "1", "Expression is too long"),
        ("'" + "a" * 100_000 + "'", "Expression is too long"),
        ("1 = 1 and " * 10_000 + "1", "Expression is too long"),
    ],
)
def test_huge_input_is_rejected_by_length(source: str, message: str) -> None:
    assert parse_error(source).message.startswith(message)


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("(" * 100_000 + "1" + ")" * 100_000, "Expression is too complex (more than 500 parts)", 500),
        ("not(" * 5000 + "1" + ")" * 5000, "Expression is too complex (more than 500 parts)", 1000),
        ("-" * 100_000 + "1", "Expression is too complex", 500),
        ("'" + "a" * 100_000 + "'", "Text in quotes is too long", 0),
        ("1 = 1 and " * 10_000 + "1", "Expression is too complex", 1250),
        ("(" * 200 + "1" + ")" * 200, "Expression is nested too deeply", 32),
    ],
)
def test_huge_input_is_rejected_even_when_length_is_allowed(source: str, message: str, position: int) -> None:
    error = parse_error(source, max_length=10**6)
    assert error.message.startswith(message)
    assert error.position == position


# --- check() -------------------------------------------------------------------------------------


def test_check_accepts_earlier_questions_and_returns_the_expression() -> None:
    expression = check("${Q1} > 1 and ${Q2} = 'x'", allowed_names=["Q1", "Q2", "Q3"], allow_self=False)
    assert expression.references == frozenset({"Q1", "Q2"})
    assert check(". > ${Q1}", allowed_names={"Q1"}, allow_self=True).uses_self is True


def test_check_names_the_first_reference_that_is_not_an_earlier_question() -> None:
    with pytest.raises(ExpressionError) as caught:
        check("${Q1} > 1 and ${Q9} = 2 or ${Q8}", allowed_names=["Q1", "Q2"], allow_self=False)
    assert caught.value.message == "${Q9} is not an earlier question in this questionnaire (at character 15)"
    assert caught.value.position == 14


def test_check_suggests_a_similar_question_name() -> None:
    with pytest.raises(ExpressionError) as caught:
        check("not(${agee} > 1)", allowed_names=("age", "name"), allow_self=True)
    assert caught.value.message == (
        "${agee} is not an earlier question in this questionnaire (at character 5); did you mean ${age}?"
    )


def test_check_refuses_dot_outside_constraints() -> None:
    with pytest.raises(ExpressionError) as caught:
        check("${Q1} = 1 and . > 1", allowed_names=["Q1"], allow_self=False)
    assert (
        caught.value.message
        == "'.' (this question's answer) can only be used in a constraint (at character 15)"
    )
    assert caught.value.position == 14


def test_check_reports_syntax_errors_first() -> None:
    with pytest.raises(ExpressionError) as caught:
        check("${Q9} +", allowed_names=[], allow_self=False)
    assert caught.value.message == "Unexpected end of expression (at character 8); expected a value"


def test_check_refuses_a_single_string_as_allowed_names() -> None:
    with pytest.raises(TypeError, match="collection of names"):
        check("${Q} = 1", allowed_names="Q", allow_self=False)


# --- to_source -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("1+2*3", "1 + 2 * 3"),
        ("(1+2)*3", "(1 + 2) * 3"),
        ("1 - (2 - 3)", "1 - (2 - 3)"),
        ("(1 - 2) - 3", "1 - 2 - 3"),
        ("((${a}))", "${a}"),
        ("-(1+2)", "-(1 + 2)"),
        ("-(-(1))", "--1"),
        ("(-1) * 2", "-1 * 2"),
        ("${a}or${b}", "${a} or ${b}"),
        ("(${a} or ${b}) and .", "(${a} or ${b}) and ."),
        ("${a} or (${b} and .)", "${a} or ${b} and ."),
        ("1 = (2 = 3)", "1 = (2 = 3)"),
        ("selected( ${Q1} ,'a')", "selected(${Q1}, 'a')"),
        ('selected(${Q1}, "it\'s")', 'selected(${Q1}, "it\'s")'),
        ("today()", "today()"),
        ("0002.500 + .5 + 7.", "2.5 + 0.5 + 7"),
        ("123456789012345678901234", "123456789012345690000000"),
        ("8 mod-3", "8 mod -3"),
    ],
)
def test_to_source_renders_canonical_source(source: str, canonical: str) -> None:
    root = parse(source).root
    assert to_source(root) == canonical
    assert parse(canonical).root == root


def test_to_source_refuses_what_the_language_cannot_express() -> None:
    with pytest.raises(ExpressionError, match="both ' and"):
        to_source(String('it\'s "quoted"'))
    with pytest.raises(ExpressionError, match="Infinity cannot be written"):
        to_source(Number(math.inf))


def test_deep_trees_render_with_no_more_nesting_than_their_source() -> None:
    source = " + ".join(["1"] * 200) + " = 200"
    assert to_source(parse(source).root) == source
    nested = "(" * 32 + "1" + " - 1)" * 32
    assert parse(to_source(parse(nested).root)).root == parse(nested).root


# --- Properties ----------------------------------------------------------------------------------

FRAGMENTS = [
    "(",
    ")",
    ",",
    "${Q1}",
    "${Q2}",
    "${",
    "}",
    "'a'",
    '"b"',
    "'",
    "1",
    "2.5",
    ".",
    "-",
    "+",
    "*",
    "=",
    "!=",
    "<",
    ">=",
    " and ",
    " or ",
    " div ",
    " mod ",
    "not(",
    "selected(",
    "count-selected(",
    "if(",
    "coalesce(",
    "date(",
    "'2024-01-31'",
    "today()",
    "true()",
    "number(",
    "int(",
    "string-length(",
    " ",
    "x",
    "$",
    "é",
]
ANY_ANSWER = st.one_of(
    st.none(),
    st.text(alphabet="ab 3.5-", max_size=5),
    st.integers(-5, 50),
    st.sampled_from([0.5, 2.5, -1.25, 0.0, -0.0]),
    st.decimals(min_value=-100, max_value=100, places=2),
    st.lists(st.sampled_from(["a", "b", "c d", "3", "true"]), max_size=3, unique=True),
    st.booleans(),
    st.dates(),
)


def parse_or_error(source: str) -> Expression | ExpressionError:
    """Any other exception propagates and fails the calling test."""
    try:
        return parse(source)
    except ExpressionError as error:
        return error


@given(st.text())
def test_parse_of_any_text_returns_an_expression_or_raises_expression_error(source: str) -> None:
    outcome = parse_or_error(source)
    if isinstance(outcome, ExpressionError):
        assert outcome.message
        assert outcome.position is None or 0 <= outcome.position <= len(source)
    else:
        assert isinstance(outcome, Expression)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    st.dictionaries(st.sampled_from(["Q1", "Q2"]), ANY_ANSWER),
    ANY_ANSWER,
)
def test_near_valid_text_parses_or_fails_cleanly_and_evaluation_never_raises(
    source: str, answers: dict[str, AnswerValue], self_value: AnswerValue
) -> None:
    expression = parse_or_error(source)
    if isinstance(expression, Expression):
        assert evaluate(expression, answers=answers, self_value=self_value) in (True, False)
        assert parse(to_source(expression.root)).root == expression.root


# Random trees over a subset of the language, with an independent renderer and reference evaluator.

NAMES = ["Q1", "Q2", "Q3", "Q4"]
CODES = ["a", "b", "c d", "3", "true"]
BINARY_OPERATORS = ["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod"]
Tree = tuple[Any, ...]

LEAVES = st.one_of(
    st.builds(lambda n: ("num", float(n)), st.integers(0, 60)),
    st.builds(lambda n: ("num", n / 4), st.integers(0, 40)),
    st.builds(lambda s: ("str", s), st.text(alphabet="ab 3.5-'", max_size=4)),
    st.builds(lambda name: ("ref", name), st.sampled_from(NAMES)),
    st.builds(lambda name, code: ("selected", name, code), st.sampled_from(NAMES), st.sampled_from(CODES)),
    st.builds(lambda name: ("count", name), st.sampled_from(NAMES)),
)
TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(
            lambda op, left, right: ("bin", op, left, right),
            st.sampled_from(BINARY_OPERATORS),
            children,
            children,
        ),
        st.builds(lambda child: ("not", child), children),
        st.builds(lambda child: ("neg", child), children),
    ),
    max_leaves=12,
)
SUBSET_ANSWERS = st.dictionaries(
    st.sampled_from(NAMES),
    st.one_of(
        st.none(),
        st.text(alphabet="ab 3.5-", max_size=4),
        st.integers(-5, 50),
        st.sampled_from([0.5, 2.5, -1.25, -0.0]),
        st.decimals(min_value=-100, max_value=100, places=2),
        st.lists(st.sampled_from(CODES), max_size=3, unique=True),
        st.booleans(),
    ),
)


def render(tree: Tree) -> str:
    """Fully bracketed source for a tree, written independently of to_source()."""
    kind = tree[0]
    if kind == "num":
        return repr(tree[1])
    if kind == "str":
        quote = '"' if "'" in tree[1] else "'"
        return f"{quote}{tree[1]}{quote}"
    if kind == "ref":
        return f"${{{tree[1]}}}"
    if kind == "selected":
        return f"selected(${{{tree[1]}}}, '{tree[2]}')"
    if kind == "count":
        return f"count-selected(${{{tree[1]}}})"
    if kind == "not":
        return f"not({render(tree[1])})"
    if kind == "neg":
        return f"-{render(tree[1])}"
    return f"({render(tree[2])} {tree[1]} {render(tree[3])})"


def expected_ast(tree: Tree) -> Node:
    kind = tree[0]
    if kind == "num":
        return Number(tree[1])
    if kind == "str":
        return String(tree[1])
    if kind == "ref":
        return Ref(tree[1])
    if kind == "selected":
        return Call("selected", (Ref(tree[1]), String(tree[2])))
    if kind == "count":
        return Call("count-selected", (Ref(tree[1]),))
    if kind == "not":
        return Call("not", (expected_ast(tree[1]),))
    if kind == "neg":
        return Negate(expected_ast(tree[1]))
    return Binary(tree[1], expected_ast(tree[2]), expected_ast(tree[3]))


def depth(tree: Tree) -> int:
    children = [child for child in tree[1:] if isinstance(child, tuple)]
    return 1 + max(map(depth, children), default=0)


def ref_answer(raw: Any) -> Any:
    if raw is None:
        return ""
    if isinstance(raw, bool | str):
        return raw
    if isinstance(raw, list):
        return tuple(raw)
    return float(raw)


def ref_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value == 0:
            return "0"
        return str(int(value)) if value == int(value) else repr(value)
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)


def ref_number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, float):
        return value
    text = ref_text(value).strip(" \t\r\n")
    digits = text[1:] if text.startswith("-") else text
    if digits in ("", ".") or digits.count(".") > 1 or any(c not in "0123456789." for c in digits):
        return math.nan
    return float(text)


def ref_truth(value: Any) -> bool:
    if isinstance(value, float):
        return value == value and value != 0
    if isinstance(value, bool):
        return value
    return ref_text(value) != ""


def ref_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return ref_truth(left) is ref_truth(right)
    if isinstance(left, float) or isinstance(right, float):
        return ref_number(left) == ref_number(right)
    return ref_text(left) == ref_text(right)


def ref_arithmetic(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "div":
        if y == 0:
            if x == 0 or x != x:
                return math.nan
            positive = (x > 0) == (math.copysign(1, y) > 0)
            return math.inf if positive else -math.inf
        return x / y
    if y == 0 or x != x or y != y or x in (math.inf, -math.inf):
        return math.nan
    if y in (math.inf, -math.inf):
        return x
    return math.copysign(abs(x) % abs(y), x)


def ref_eval(tree: Tree, answers: dict[str, Any]) -> Any:
    kind = tree[0]
    if kind in ("num", "str"):
        return tree[1]
    if kind == "ref":
        return ref_answer(answers.get(tree[1]))
    if kind in ("selected", "count"):
        value = ref_answer(answers.get(tree[1]))
        codes = list(value) if isinstance(value, tuple) else [ref_text(value)] if ref_text(value) else []
        return tree[2] in codes if kind == "selected" else float(len(codes))
    if kind == "not":
        return not ref_truth(ref_eval(tree[1], answers))
    if kind == "neg":
        return -ref_number(ref_eval(tree[1], answers))
    op, left, right = tree[1], ref_eval(tree[2], answers), ref_eval(tree[3], answers)
    if op == "or":
        return ref_truth(left) or ref_truth(right)
    if op == "and":
        return ref_truth(left) and ref_truth(right)
    if op in ("=", "!="):
        return ref_equal(left, right) is (op == "=")
    x, y = ref_number(left), ref_number(right)
    comparisons = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}
    return comparisons[op] if op in comparisons else ref_arithmetic(op, x, y)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(TREES, SUBSET_ANSWERS)
def test_random_expressions_parse_and_evaluate_like_the_reference(
    tree: Tree, answers: dict[str, Any]
) -> None:
    assume(depth(tree) <= 30)  # leaves that are calls add one level; keep within the default 32
    source = render(tree)
    expression = parse(source, max_depth=100)

    assert expression.root == expected_ast(tree)
    assert evaluate(expression, answers=answers) is ref_truth(ref_eval(tree, answers))
    canonical = to_source(expression.root)
    assert parse(canonical).root == expression.root
    assert to_source(parse(canonical).root) == canonical
