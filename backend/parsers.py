"""The project's JSON parser: DRF's, refusing text that holds an unpaired UTF-16 surrogate.

``json.loads`` accepts an escape such as ``"\\ud800"`` that has no partner and yields a ``str`` holding a lone
surrogate, which is no Unicode text: encrypting, sealing or even rendering it back fails later with a 500.
Refusing it here, with a 400 naming where it is, protects every endpoint at once.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Valid UTF-8 (or UTF-16) cannot encode a lone surrogate: it can only come from a \u escape in the body. Only
# when the text holds one in the surrogate range (D800-DFFF) is the parsed content walked, since a correctly
# paired escape (an emoji, say) is also written this way.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # searched in the UTF-8 bytes, which spell it in ASCII
# After parsing, a pair has become one character above U+FFFF: any surrogate left is an unpaired one.
_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")
_PATH_SHOWN = 200
_UTF8 = frozenset({"utf-8", "utf-8-sig"})  # codec names, as codecs.lookup() spells them


class UnpairedSurrogate(ParseError):
    """A string of the body holds an unpaired UTF-16 surrogate escape; ``field`` is its JSON path."""

    default_code = "unpaired_surrogate"

    def __init__(self, *, field: str, in_key: bool) -> None:
        self.field = field
        if field:
            where = f"a key of {field}" if in_key else field
        else:
            where = "a key at the top level of the body" if in_key else "the body"
        super().__init__(
            f"{where}: the text holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff without its "
            "other half), which is not valid Unicode; send the characters as UTF-8 or as a complete pair."
        )


class UnsupportedCharset(ParseError):
    default_code = "unsupported_charset"


class ProjectJSONParser(JSONParser):
    """DRF's JSON parser, for UTF-8 only (RFC 8259, section 8.1), refusing unpaired surrogate escapes.

    Other charsets are refused: some (``unicode_escape``, ``utf-7``) decode bytes straight into a lone
    surrogate, with no escape to find, and would garble the UTF-8 text phones send anyway.
    """

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        charset = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            utf8 = codecs.lookup(charset).name in _UTF8
        except LookupError:
            utf8 = False
        if not utf8:
            raise UnsupportedCharset(
                f"charset: '{str(charset)[:40]}' is not supported; send JSON in UTF-8 (charset=utf-8, or none)."
            )
        raw = stream.read()
        parsed = super().parse(io.BytesIO(raw), media_type, parser_context)
        # UTF-8 cannot encode a lone surrogate, so only an escape in the text can make one.
        if _SURROGATE_ESCAPE.search(raw):
            check_no_lone_surrogate(parsed)
        return parsed


def check_no_lone_surrogate(document: Any) -> None:
    """Raise ``UnpairedSurrogate`` naming the first key or string of the parsed JSON holding one.

    Iterative, so that a body nested as deep as ``json.loads`` allows cannot exhaust the stack here.
    """
    pending: list[tuple[Any, str]] = [(document, "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                raise UnpairedSurrogate(field=_shown(path), in_key=False)
        elif isinstance(value, dict):
            for key in value:
                if _LONE_SURROGATE.search(key):
                    raise UnpairedSurrogate(field=_shown(path), in_key=True)
            # Reversed, so that the first offending member in the body is the one reported.
            pending.extend((item, f"{path}.{key}" if path else key) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{index}]") for index, item in reversed(list(enumerate(value))))


def _shown(path: str) -> str:
    # The path is made of the client's own keys: keep the reply short whatever they sent.
    return path if len(path) <= _PATH_SHOWN else path[: _PATH_SHOWN - 1] + "…"
