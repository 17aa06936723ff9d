"""Random identifiers people read and type: pseudonyms, access codes, link and API tokens.

Crockford's base32 alphabet (no I, L, O, U) keeps codes readable aloud and typeable on any keyboard;
typing mistakes between look-alike characters are forgiven when a code is entered.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
ACCESS_CODE_LENGTH = 12  # 60 bits of entropy
PSEUDONYM_LENGTH = 8  # 40 bits: unique by constraint, not secret


def _random_chars(count: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(count))


def _grouped(chars: str) -> str:
    return "-".join(chars[index : index + 4] for index in range(0, len(chars), 4))


def new_pseudonym() -> str:
    return _grouped(_random_chars(PSEUDONYM_LENGTH))


def new_access_code() -> str:
    return _grouped(_random_chars(ACCESS_CODE_LENGTH))


def normalize_access_code(typed: str) -> str | None:
    """The canonical code for what someone typed, or None if it cannot be a code."""
    if len(typed) > 64:
        return None
    chars = "".join(typed.split()).replace("-", "").upper().translate(_LOOKALIKES)
    if len(chars) != ACCESS_CODE_LENGTH or any(char not in ALPHABET for char in chars):
        return None
    return _grouped(chars)


def new_secret_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
