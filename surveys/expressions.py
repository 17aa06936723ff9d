"""Safe parser and evaluator for XLSForm relevance (skip logic) and constraint expressions.

The language is the XPath 1.0 subset XLSForm authors write: ``${name}`` references, ``.`` (the
question's own answer, constraints only), numbers, quoted text, ``or and = != < <= > >= + - *
div mod`` and unary ``-`` with XPath precedence, brackets and the functions in ``FUNCTIONS``.
Input is untrusted, so nothing is eval'd: a hand-written tokenizer feeds a precedence-climbing
parser building an immutable AST, which a tree walker evaluates. Length, token count, text
length and nesting depth are checked while reading, so hostile input fails fast.

Evaluation semantics (XPath 1.0 as ODK JavaRosa applies it):

* A missing answer (name absent or ``None``) is the empty text ``''``. Numeric answers (int,
  float, Decimal) are numbers; ``datetime`` answers count as their date; ``bool`` answers are
  XPath booleans, so by XPath rules ``${q} = 'no'`` is true for ``True`` (any non-empty text is
  true): pass yes/no questions as the texts ``'yes'``/``'no'``.
* A multiple-choice answer is a list of codes; as text it is the codes joined by one space.
  ``selected(x, 'c')`` tests membership; a text value is one selected code (single-choice codes
  may contain spaces) unless empty. ``count-selected`` counts the same way.
* ``=``/``!=``: with a boolean on either side both sides are compared as booleans; else with a
  number, as numbers; else with a date, as dates (text must be ``YYYY-MM-DD``); else as text.
  ``a != b`` is always ``not(a = b)``. ``< <= > >=`` compare numbers, where ``YYYY-MM-DD`` text
  facing a date counts as that date.
* Text becomes a number as XPath ``number()`` says: optional ``-``, digits, optional decimals,
  blanks around; anything else, ``''`` included, is NaN. Comparisons with NaN are false (``!=``
  true). A date as a number is its days since 1970-01-01 (``today() - ${dob}`` is days).
* Arithmetic is IEEE double and never raises: ``x div 0`` is +/-Infinity (``0 div 0`` NaN) and
  ``mod`` keeps the dividend's sign. ``int()`` truncates toward zero.
* As text, numbers have no exponent or trailing ``.0`` (``NaN``, ``Infinity``), booleans are
  ``true``/``false`` and dates ``YYYY-MM-DD``.
* ``today()`` is the date in the process's local time zone (Django sets it to ``TIME_ZONE``).
* The result is XPath ``boolean()``: non-empty text, a non-zero non-NaN number, any date and a
  non-empty selection are true.
"""

from __future__ import annotations

import datetime
import difflib
import math
import operator
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias

MAX_STRING_LENGTH = 500
MAX_TOKENS = 500
MAX_NAME_LENGTH = 64
MAX_DEPTH_CEILING = 100  # beyond this, parsing and evaluating could near Python's recursion limit

AnswerValue: TypeAlias = (
    str | int | float | Decimal | bool | datetime.date | list[str] | tuple[str, ...] | None
)

FUNCTIONS: Mapping[str, int] = {  # name -> number of arguments
    **dict.fromkeys(("true", "false", "today"), 0),
    **dict.fromkeys(("not", "count-selected", "string-length", "number", "int", "date"), 1),
    **dict.fromkeys(("selected", "coalesce"), 2),
    "if": 3,
}
# Binary operators from the loosest to the tightest binding, as in XPath.
_LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))
_PRECEDENCE: Mapping[str, int] = {op: level for level, ops in enumerate(_LEVELS, 1) for op in ops}
_WHITESPACE = " \t\r\n"  # XPath's; other blanks get a hint instead
_SYMBOLS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "(", ")", ",")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SIGNED_NUMBER_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# A hyphen joins words only before a letter: `count-selected` is one word, `1 mod-1` is not.
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*")
_REF_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_EPOCH = datetime.date(1970, 1, 1)
_CHARACTER_HINTS = {
    "/": "use 'div' to divide",
    "%": "use 'mod' for the remainder",
    "&": "use 'and'",
    "|": "use 'or'",
    "!": "use '!=' or not()",
    "\u00a0": "this is a non-breaking space; use an ordinary space",
    **dict.fromkeys("\u2018\u2019\u201c\u201d", "use straight quotes ' or \""),
}


class ExpressionError(ValueError):
    """An expression that cannot be parsed or refers to something it may not.

    ``message`` is English for form authors; where a place is known it says
    "(at character N)", N counted from 1, and ``position`` is that place as a 0-based offset
    (None when the problem is the expression as a whole).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __reduce__(self) -> tuple[type[ExpressionError], tuple[str, int | None]]:
        return (type(self), (self.message, self.position))


def _error(what: str, position: int | None, hint: str = "") -> ExpressionError:
    message = what if position is None else f"{what} (at character {position + 1})"
    return ExpressionError(f"{message}; {hint}" if hint else message, position)


# --- AST ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    value: float  # finite and >= 0 when parsed; minus signs are Negate nodes


@dataclass(frozen=True, slots=True)
class String:
    value: str


@dataclass(frozen=True, slots=True)
class Ref:
    name: str  # ${name}; the position only serves error messages, so == ignores it
    position: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SelfRef:
    position: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # a key of _PRECEDENCE
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # a key of FUNCTIONS
    args: tuple[Node, ...]


Node: TypeAlias = Number | String | Ref | SelfRef | Negate | Binary | Call


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression; build it with parse() or check(), use it with evaluate()."""

    source: str
    root: Node
    references: frozenset[str]  # names used as ${name}
    uses_self: bool  # whether '.' appears


# --- Tokenizer ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["number", "string", "ref", "self", "word", "symbol", "end"]
    text: str  # the symbol or word, the text literal's contents, the reference name, the number as written
    position: int
    number: float = 0.0

    def is_symbol(self, symbol: str) -> bool:
        return self.kind == "symbol" and self.text == symbol

    def describe(self) -> str:
        if self.kind in ("number", "string"):
            return f"number {self.text[:20]}" if self.kind == "number" else f"text {_quote(self.text[:20])}"
        if self.kind == "ref":
            return f"${{{self.text}}}"
        return "end of expression" if self.kind == "end" else f"'{self.text}'"


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        if source[position] in _WHITESPACE:
            position += 1
            continue
        if len(tokens) == MAX_TOKENS:
            raise _error(f"Expression is too complex (more than {MAX_TOKENS} parts)", position)
        token, position = _next_token(source, position)
        tokens.append(token)
    tokens.append(_Token("end", "", len(source)))
    return tokens


def _next_token(source: str, position: int) -> tuple[_Token, int]:
    char = source[position]
    if number := _NUMBER_RE.match(source, position):
        if math.isinf(value := float(number.group())):
            raise _error("Number is too large", position)
        return _Token("number", number.group(), position, value), number.end()
    if char == ".":
        return _Token("self", ".", position), position + 1
    if char in "'\"":  # XLSForm text has no escapes, so it ends at the next identical quote
        end = source.find(char, position + 1)
        if end == -1:
            raise _error("Unterminated text", position, f"the {char} that starts it is never closed")
        if end - position - 1 > MAX_STRING_LENGTH:
            raise _error(f"Text in quotes is too long (more than {MAX_STRING_LENGTH} characters)", position)
        return _Token("string", source[position + 1 : end], position), end + 1
    if char == "$":
        return _read_reference(source, position)
    if word := _WORD_RE.match(source, position):
        return _Token("word", word.group(), position), word.end()
    if source.startswith("==", position):
        raise _error("Unexpected '=='", position, "use a single '=' to compare")
    for symbol in _SYMBOLS:
        if source.startswith(symbol, position):
            return _Token("symbol", symbol, position), position + len(symbol)
    shown = f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
    raise _error(f"Unexpected character {shown}", position, _CHARACTER_HINTS.get(char, ""))


def _read_reference(source: str, position: int) -> tuple[_Token, int]:
    start = position + 2
    if not source.startswith("${", position):
        raise _error("Unexpected character '$'", position, "refer to a question as ${name}")
    if source.startswith("}", start):
        raise _error("Empty question reference '${}'", position)
    match = _REF_NAME_RE.match(source, start)
    end = start if match is None else match.end()
    if end == len(source):
        raise _error("Unterminated question reference", position, "'${' needs a closing '}'")
    if match is None:
        raise _error("Invalid question name", start, "names start with a letter or underscore")
    if source[end] != "}":
        raise _error("Invalid character in question name", end, "names use letters, digits, _ . and -")
    if end - start > MAX_NAME_LENGTH:
        raise _error(f"Question name is too long (more than {MAX_NAME_LENGTH} characters)", start)
    return _Token("ref", source[start:end], position), end + 1


# --- Parser ---------------------------------------------------------------------------------------


class _Parser:
    """Precedence climbing. Binary chains are loops, so only brackets, calls and minus signs,
    all counted in ``_depth`` and checked before descending, grow the Python stack."""

    def __init__(self, tokens: list[_Token], max_depth: int) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._max_depth = max_depth
        self.references: set[str] = set()
        self.uses_self = False

    def parse(self) -> Node:
        root = self._expression(0)
        token = self._tokens[self._index]
        if token.is_symbol(")"):
            raise _error("Unmatched ')'", token.position, "there is no '(' before it")
        if token.kind != "end":
            raise _error(
                f"Unexpected {token.describe()}",
                token.position,
                "expected an operator such as 'and', 'or', '=' or '+'",
            )
        return root

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        self._index += token.kind != "end"
        return token

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > self._max_depth:
            raise _error(
                f"Expression is nested too deeply (more than {self._max_depth} levels of "
                "brackets, functions or minus signs)",
                token.position,
            )

    def _expression(self, min_precedence: int) -> Node:
        left = self._unary()
        while True:
            token = self._peek()
            precedence = _PRECEDENCE.get(token.text) if token.kind in ("symbol", "word") else None
            if precedence is None or precedence < min_precedence:
                return left
            self._advance()
            # precedence + 1: equal-precedence operators associate to the left, as in XPath.
            left = Binary(token.text, left, self._expression(precedence + 1))

    def _unary(self) -> Node:
        signs = 0
        while self._peek().is_symbol("-"):
            self._enter(self._advance())
            signs += 1
        node = self._primary()
        for _ in range(signs):
            node = Negate(node)
        self._depth -= signs
        return node

    def _primary(self) -> Node:
        token = self._advance()
        if token.kind == "number":
            return Number(token.number)
        if token.kind == "string":
            return String(token.text)
        if token.kind == "ref":
            self.references.add(token.text)
            return Ref(token.text, token.position)
        if token.kind == "self":
            self.uses_self = True
            return SelfRef(token.position)
        if token.kind == "word":
            return self._call(token)
        if token.is_symbol("("):
            self._enter(token)
            inner = self._expression(0)
            self._close(token, "')'")
            self._depth -= 1
            return inner
        if token.kind == "end":
            raise _error("Unexpected end of expression", token.position, "expected a value")
        raise _error(
            f"Unexpected {token.describe()}",
            token.position,
            "expected a value such as a number, 'text' or ${name}",
        )

    def _call(self, token: _Token) -> Node:
        name = token.text
        if not self._peek().is_symbol("("):
            if name in FUNCTIONS:
                raise _error(
                    f"Function '{name}' needs brackets",
                    token.position,
                    f"write {name}()" if FUNCTIONS[name] == 0 else f"write {name}(...)",
                )
            if name in _PRECEDENCE:
                raise _error(f"Unexpected '{name}'", token.position, "expected a value before it")
            raise _error(
                f"Unknown name '{name}'", token.position, f"to use the answer to a question write ${{{name}}}"
            )
        if name not in FUNCTIONS:
            raise _error(
                f"Unknown function '{name}()'",
                token.position,
                "allowed functions are " + ", ".join(f"{known}()" for known in sorted(FUNCTIONS)),
            )
        self._enter(token)
        opening = self._advance()
        args: list[Node] = []
        first_argument = self._peek()
        while not (self._peek().is_symbol(")") and not args):
            args.append(self._expression(0))
            if not self._peek().is_symbol(","):
                break
            self._advance()
        self._close(opening, f"',' or ')' in {name}()")
        self._depth -= 1
        if len(args) != FUNCTIONS[name]:
            wanted = {0: "no arguments", 1: "1 argument"}.get(FUNCTIONS[name], f"{FUNCTIONS[name]} arguments")
            raise _error(f"{name}() takes {wanted} but was given {len(args)}", token.position)
        if name == "date" and isinstance(args[0], String) and _parse_date(args[0].value) is None:
            raise _error(
                f"Invalid date {_quote(args[0].value)}",
                first_argument.position,
                "write an existing date as 'YYYY-MM-DD'",
            )
        return Call(name, tuple(args))

    def _close(self, opening: _Token, expected: str) -> None:
        token = self._advance()
        if not token.is_symbol(")"):
            what = "Unexpected end of expression" if token.kind == "end" else f"Unexpected {token.describe()}"
            raise _error(
                what,
                token.position,
                f"expected {expected}; the '(' at character {opening.position + 1} is not closed",
            )


# --- Public entry points --------------------------------------------------------------------------


def parse(source: str, *, max_length: int = 2000, max_depth: int = 32) -> Expression:
    """Parse ``source`` or raise ExpressionError saying what is wrong and where.

    Brackets, function calls and minus signs each add a nesting level (at most ``max_depth``,
    which may not exceed MAX_DEPTH_CEILING). Text literals may hold MAX_STRING_LENGTH characters,
    question names MAX_NAME_LENGTH, and an expression MAX_TOKENS tokens.
    """
    if not 1 <= max_depth <= MAX_DEPTH_CEILING:
        raise ValueError(f"max_depth must be between 1 and {MAX_DEPTH_CEILING}")
    if len(source) > max_length:
        raise ExpressionError(
            f"Expression is too long ({len(source)} characters; the maximum is {max_length})", max_length
        )
    if not source.strip(_WHITESPACE):
        raise ExpressionError("Expression is empty")
    parser = _Parser(_tokenize(source), max_depth)
    root = parser.parse()
    return Expression(source, root, frozenset(parser.references), parser.uses_self)


def check(source: str, *, allowed_names: Collection[str], allow_self: bool) -> Expression:
    """Parse ``source`` and require every ``${name}`` to be in ``allowed_names`` (the earlier
    questions) and '.' to appear only if ``allow_self`` (constraints). The first offender in
    source order is reported."""
    if isinstance(allowed_names, str):
        raise TypeError("allowed_names must be a collection of names, not one string")
    expression = parse(source)
    allowed = frozenset(allowed_names)
    for node in _walk(expression.root):
        if isinstance(node, Ref) and node.name not in allowed:
            close = difflib.get_close_matches(node.name, sorted(allowed), n=1)
            raise _error(
                f"${{{node.name}}} is not an earlier question in this questionnaire",
                node.position,
                f"did you mean ${{{close[0]}}}?" if close else "",
            )
        if isinstance(node, SelfRef) and not allow_self:
            raise _error("'.' (this question's answer) can only be used in a constraint", node.position)
    return expression


def _walk(root: Node) -> Iterator[Node]:
    """Pre-order, left to right (source order), without recursion."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Negate):
            stack.append(node.operand)
        elif isinstance(node, Binary):
            stack += (node.right, node.left)
        elif isinstance(node, Call):
            stack += reversed(node.args)


def _left_spine(node: Binary) -> tuple[list[Binary], Node]:
    """Innermost-first Binary nodes down the left edge, and the leaf below them: long chains
    such as ``a or b or c ...`` nest to the left, and are walked with a loop, not recursion."""
    spine: list[Binary] = []
    current: Node = node
    while isinstance(current, Binary):
        spine.append(current)
        current = current.left
    return spine[::-1], current


def _precedence(node: Node) -> int:
    """How tightly a node's top operator binds; anything but a Binary is atomic."""
    if not isinstance(node, Binary):
        return len(_PRECEDENCE)
    if node.op not in _PRECEDENCE:
        raise ExpressionError(f"Unknown operator '{node.op}'")
    return _PRECEDENCE[node.op]


def to_source(node: Node) -> str:
    """Canonical source: one space around binary operators and brackets only where precedence
    needs them, so the result is never nested deeper than the source it was parsed from (it
    can be longer, though, because of the spaces)."""
    if isinstance(node, Binary):
        spine, child = _left_spine(node)
        text = to_source(child)
        for binary in spine:
            precedence = _precedence(binary)
            if _precedence(child) < precedence:
                text = f"({text})"
            right = to_source(binary.right)
            if _precedence(binary.right) <= precedence:  # operators associate to the left
                right = f"({right})"
            text, child = f"{text} {binary.op} {right}", binary
        return text
    if isinstance(node, Number):
        if not math.isfinite(node.value):
            raise ExpressionError(f"{_format_number(node.value)} cannot be written as a number literal")
        return _format_number(node.value)
    if isinstance(node, String):
        return _quote(node.value)
    if isinstance(node, Ref | SelfRef):
        return f"${{{node.name}}}" if isinstance(node, Ref) else "."
    if isinstance(node, Negate):
        operand = to_source(node.operand)
        return f"-({operand})" if isinstance(node.operand, Binary) else f"-{operand}"
    return f"{node.name}({', '.join(to_source(arg) for arg in node.args)})"


def _quote(text: str) -> str:
    if "'" not in text or '"' not in text:
        return f'"{text}"' if "'" in text else f"'{text}'"
    raise ExpressionError("Text containing both ' and \" cannot be written in an expression")


# --- Evaluation -----------------------------------------------------------------------------------

_Value: TypeAlias = str | float | bool | datetime.date | tuple[str, ...]


def evaluate(
    expression: Expression, *, answers: Mapping[str, AnswerValue], self_value: AnswerValue = None
) -> bool:
    """Evaluate with ``answers`` (by question name) and ``self_value`` as '.', returning XPath
    ``boolean()`` of the result; see the module docstring for the rules. Never raises for
    answers of the declared types; values of other types count as missing."""
    return _to_boolean(_Evaluator(answers, self_value).value(expression.root))


class _Evaluator:
    def __init__(self, answers: Mapping[str, AnswerValue], self_value: AnswerValue) -> None:
        self._answers = answers
        self._self_value = self_value

    def value(self, node: Node) -> _Value:
        if isinstance(node, Binary):
            spine, leaf = _left_spine(node)
            result = self.value(leaf)
            for binary in spine:
                result = self._binary(binary, result)
            return result
        if isinstance(node, Number | String):
            return float(node.value) if isinstance(node, Number) else node.value
        if isinstance(node, Ref):
            return _from_answer(self._answers.get(node.name))
        if isinstance(node, SelfRef):
            return _from_answer(self._self_value)
        if isinstance(node, Negate):
            return -_to_number(self.value(node.operand))
        if FUNCTIONS.get(node.name) != len(node.args):
            raise ExpressionError(f"Unknown function {node.name}() with {len(node.args)} arguments")
        if node.name == "if":  # lazily: only the chosen branch is evaluated
            return self.value(node.args[1] if _to_boolean(self.value(node.args[0])) else node.args[2])
        if node.name == "coalesce":
            first = self.value(node.args[0])
            return first if _to_string(first) != "" else self.value(node.args[1])
        return _FUNCTION_IMPLEMENTATIONS[node.name](*(self.value(arg) for arg in node.args))

    def _binary(self, node: Binary, left: _Value) -> _Value:
        if node.op in ("or", "and"):  # short-circuit
            if _to_boolean(left) == (node.op == "or"):
                return node.op == "or"
            return _to_boolean(self.value(node.right))
        right = self.value(node.right)
        if node.op in ("=", "!="):
            return _equals(left, right) == (node.op == "=")
        if node.op in _COMPARISONS:
            if isinstance(left, datetime.date) or isinstance(right, datetime.date):
                left, right = _as_date(left) or left, _as_date(right) or right
            return _COMPARISONS[node.op](_to_number(left), _to_number(right))
        if node.op in _ARITHMETIC:
            return _ARITHMETIC[node.op](_to_number(left), _to_number(right))
        raise ExpressionError(f"Unknown operator '{node.op}'")


def _from_answer(raw: object) -> _Value:
    if isinstance(raw, bool | str):
        return raw
    if isinstance(raw, datetime.date):
        return raw.date() if isinstance(raw, datetime.datetime) else raw
    if isinstance(raw, int | float | Decimal):
        try:
            return float(raw)
        except OverflowError:  # an int beyond float range
            return math.inf if raw > 0 else -math.inf
        except ValueError:  # a signalling-NaN Decimal
            return math.nan
    if isinstance(raw, list | tuple):
        return tuple(
            item if isinstance(item, str) else _to_string(_from_answer(item))
            for item in raw
            if not isinstance(item, list | tuple)
        )
    return ""


def _choices(value: _Value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else tuple(filter(None, [_to_string(value)]))


def _format_number(number: float) -> str:
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if number == 0:
        return "0"
    text = format(Decimal(repr(number)), "f")  # repr is the shortest text that round-trips
    return text.rstrip("0").rstrip(".") if "." in text else text


def _to_string(value: _Value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _format_number(value)
    return value.isoformat() if isinstance(value, datetime.date) else " ".join(value)


def _to_number(value: _Value) -> float:
    if isinstance(value, bool | float):
        return float(value)
    if isinstance(value, datetime.date):
        return float((value - _EPOCH).days)
    match = _SIGNED_NUMBER_RE.fullmatch(_to_string(value).strip(_WHITESPACE))
    return float(match.group()) if match else math.nan


def _to_boolean(value: _Value) -> bool:
    if isinstance(value, bool | float):
        return bool(value) and not math.isnan(value)
    return isinstance(value, datetime.date) or _to_string(value) != ""


def _parse_date(text: str) -> datetime.date | None:
    match = _DATE_RE.fullmatch(text.strip(_WHITESPACE))
    try:
        return datetime.date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:  # e.g. 2023-02-30
        return None


def _as_date(value: _Value) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    return _parse_date(_to_string(value)) if isinstance(value, str | tuple) else None


def _to_date(value: _Value) -> _Value:
    """date(): 'YYYY-MM-DD' text becomes a date and a number counts days from 1970-01-01;
    '' stays '' (still "missing") and anything else is NaN."""
    if (as_date := _as_date(value)) is not None or isinstance(value, str | tuple):
        return as_date if as_date is not None else ("" if _to_string(value) == "" else math.nan)
    try:
        return _EPOCH + datetime.timedelta(days=math.floor(_to_number(value)))
    except (OverflowError, ValueError):  # out of range, infinite or NaN
        return math.nan


def _equals(left: _Value, right: _Value) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _to_boolean(left) == _to_boolean(right)
    if isinstance(left, float) or isinstance(right, float):
        return _to_number(left) == _to_number(right)
    if isinstance(left, datetime.date) or isinstance(right, datetime.date):
        return (left_date := _as_date(left)) is not None and left_date == _as_date(right)
    return _to_string(left) == _to_string(right)


def _divide(x: float, y: float) -> float:
    if y != 0:
        return x / y
    return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1.0, y)


def _modulo(x: float, y: float) -> float:
    # XPath mod truncates like C's fmod, so the result has the dividend's sign.
    return math.nan if y == 0 or math.isnan(y) or not math.isfinite(x) else math.fmod(x, y)


def _truncate(value: _Value) -> float:
    number = _to_number(value)
    return float(math.trunc(number)) if math.isfinite(number) else number  # NaN and infinities stay


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).astimezone().date()


_COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: Mapping[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "div": _divide,
    "mod": _modulo,
}
_FUNCTION_IMPLEMENTATIONS: Mapping[str, Callable[..., _Value]] = {
    "not": lambda value: not _to_boolean(value),
    "true": lambda: True,
    "false": lambda: False,
    "today": _today,
    "number": _to_number,
    "int": _truncate,
    "string-length": lambda value: float(len(_to_string(value))),
    "selected": lambda value, code: _to_string(code) in _choices(value),
    "count-selected": lambda value: float(len(_choices(value))),
    "date": _to_date,
}


def references_of(*sources: str) -> frozenset[str]:
    """Every ``${name}`` the given expressions use (unparseable ones contribute none)."""
    names: set[str] = set()
    for source in sources:
        if source:
            try:
                names |= parse(source).references
            except ExpressionError:
                continue
    return frozenset(names)
