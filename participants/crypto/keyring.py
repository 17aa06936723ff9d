"""Server-side symmetric encryption with a rotating key ring, and HMAC blind indexes.

Used for data the server itself must read back (contact details, drafts). Completed responses are *not*
encrypted here: they are sealed to the research team's public key (see ``sealing.py``).

Token format (ASCII, no padding)::

    v1.<kid>.<base64url(nonce || ciphertext || tag)>

* AES-256-GCM (``cryptography``'s ``AESGCM``) with a fresh random 96-bit nonce per token.
* The AEAD associated data is ``b"v1.<kid>." + associated_data``. Key ids cannot contain ``.``, so this
  prefix is unambiguous: a token relabelled with another key id or version fails authentication even if
  the same key were registered under two ids.
* Only the canonical base64url encoding is accepted, so one ciphertext has exactly one token string.

Key ring configuration (e.g. from an environment variable)::

    "kid2:BASE64URLKEY,kid1:BASE64URLKEY"   # first entry = primary, used for new writes

Rotation: generate a key (``python -m participants.crypto.keyring``), put it *first* in the spec, deploy,
then re-encrypt stored tokens with :meth:`KeyRing.rotate` (``needs_rotation`` finds them); drop the old
key only once no token uses it.

Blind indexes: ``HMAC-SHA256(HKDF-SHA256(blind_index_key, info=b"blind-index:" + purpose), value)``, hex.
They let the server look up equal values (e.g. a phone number in E.164 form) without decrypting; callers
must normalise the value first. The blind index key must be distinct from every encryption key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DecryptionError",
    "KeyRing",
    "KeyRingError",
    "FORMAT_VERSION",
    "generate_key",
]

FORMAT_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_KEY_ID_RE = re.compile(r"[a-z0-9-]{1,16}")
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_PURPOSE_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")


class KeyRingError(ValueError):
    """The key ring configuration is invalid. Messages never contain key material."""


class DecryptionError(Exception):
    """A token cannot be decrypted: malformed, tampered, unknown key id or wrong associated data.

    Messages never contain plaintext or key material.
    """


def generate_key() -> str:
    """Return a new random AES-256 key as base64url (with padding), for a key ring spec entry."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 section 5)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _b64url_decode_strict(text: str, *, allow_padding: bool) -> bytes:
    """Decode base64url and refuse anything but its canonical form (RFC 4648 sections 3.5 and 5).

    Raises ValueError with a reason that never includes the input.
    """
    if not text.isascii() or "+" in text or "/" in text:
        raise ValueError("not base64url")
    unpadded = text.rstrip("=")
    padding = len(text) - len(unpadded)
    if padding and (not allow_padding or padding != -len(unpadded) % 4):
        raise ValueError("not base64url (bad padding)")
    if not unpadded or len(unpadded) % 4 == 1:
        raise ValueError("not base64url (bad length)")
    try:
        data = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    # Canonical: the unused low bits of the last character must be zero.
    unused_bits = {0: 0, 2: 4, 3: 2}[len(unpadded) % 4]
    if unused_bits and _B64URL_ALPHABET.index(unpadded[-1]) & ((1 << unused_bits) - 1):
        raise ValueError("not canonical base64url")
    return data


def _utf8(text: str, *, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Do not chain: the UnicodeEncodeError carries the whole string.
        raise ValueError(f"{what} is not encodable as UTF-8 (lone surrogate)") from None


def _decode_config_key(text: str, *, label: str) -> bytes:
    if not text or not text.strip():
        raise KeyRingError(f"{label}: is empty")
    try:
        key = _b64url_decode_strict(text.strip(), allow_padding=True)
    except ValueError:
        raise KeyRingError(f"{label}: not valid base64url") from None
    if len(key) != KEY_BYTES:
        raise KeyRingError(f"{label}: must decode to exactly {KEY_BYTES} bytes, got {len(key)}")
    return key


@dataclass(frozen=True, eq=False, repr=False)
class KeyRing:
    """AES-256-GCM key ring. ``keys`` maps key id -> 32-byte key; ``primary_id`` encrypts new data."""

    keys: Mapping[str, bytes]
    primary_id: str
    blind_index_key: bytes

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("key ring has no keys")
        for position, (kid, key) in enumerate(self.keys.items(), start=1):
            if not isinstance(kid, str) or not _KEY_ID_RE.fullmatch(kid):
                raise KeyRingError(f"key #{position}: key id must match [a-z0-9-]{{1,16}}")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise KeyRingError(f"key {kid!r} (#{position}): must be exactly {KEY_BYTES} bytes")
        if self.primary_id not in self.keys:
            raise KeyRingError("primary key id is not in the key ring")
        if not isinstance(self.blind_index_key, bytes) or len(self.blind_index_key) != KEY_BYTES:
            raise KeyRingError(f"blind index key: must be exactly {KEY_BYTES} bytes")
        if any(key == self.blind_index_key for key in self.keys.values()):
            raise KeyRingError("blind index key must differ from every encryption key")
        # Freeze a private copy so later mutation of the caller's dict cannot change the ring.
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def from_config(cls, spec: str, *, blind_index_key: str) -> KeyRing:
        """Parse ``"kid1:KEY,kid2:KEY"`` (first entry = primary) and a base64url blind index key."""
        if not spec or not spec.strip():
            raise KeyRingError("key ring spec is empty")
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(spec.split(","), start=1):
            kid, sep, key_text = entry.strip().partition(":")
            if not sep:
                raise KeyRingError(f"entry #{position}: expected 'kid:base64urlkey'")
            kid = kid.strip()
            if not _KEY_ID_RE.fullmatch(kid):
                raise KeyRingError(f"entry #{position}: key id must match [a-z0-9-]{{1,16}}")
            if kid in keys:
                raise KeyRingError(f"entry #{position}: duplicate key id {kid!r}")
            keys[kid] = _decode_config_key(key_text, label=f"key {kid!r} (entry #{position})")
        blind = _decode_config_key(blind_index_key, label="blind index key")
        return cls(keys=keys, primary_id=next(iter(keys)), blind_index_key=blind)

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={list(self.keys)!r}, primary_id={self.primary_id!r}, keys=<hidden>)"

    __str__ = __repr__

    # -- tokens ---------------------------------------------------------------------------------------

    @staticmethod
    def _header(kid: str) -> str:
        return f"{FORMAT_VERSION}.{kid}."

    @staticmethod
    def _parse(token: str) -> tuple[str, str]:
        """Split a token into (kid, body), checking version and key id; the body is checked on decrypt."""
        if not isinstance(token, str):
            raise DecryptionError("token must be a str")
        parts = token.split(".")
        if len(parts) != 3:
            raise DecryptionError("malformed token")
        version, kid, body = parts
        if version != FORMAT_VERSION:
            raise DecryptionError("unsupported token version")
        if not _KEY_ID_RE.fullmatch(kid):
            raise DecryptionError("malformed token: invalid key id")
        return kid, body

    def encrypt(self, plaintext: bytes, *, associated_data: bytes) -> str:
        """Encrypt under the primary key; ``associated_data`` must be given again to decrypt."""
        kid = self.primary_id
        header = self._header(kid)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(self.keys[kid]).encrypt(
            nonce, plaintext, header.encode("ascii") + associated_data
        )
        return header + _b64url_encode(nonce + ciphertext)

    def decrypt(self, token: str, *, associated_data: bytes) -> bytes:
        kid, body = self._parse(token)
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"unknown key id {kid!r}")
        try:
            raw = _b64url_decode_strict(body, allow_padding=False)
        except ValueError as exc:
            raise DecryptionError(f"malformed token: body is {exc}") from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("malformed token: too short")
        nonce, ciphertext = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        aad = self._header(kid).encode("ascii") + associated_data
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptionError(
                "authentication failed: tampered token, wrong key or wrong associated data"
            ) from None

    def key_id_of(self, token: str) -> str:
        """Key id named by a token (syntax check only; the key need not be in this ring)."""
        return self._parse(token)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self.primary_id

    def rotate(self, token: str, *, associated_data: bytes) -> str:
        """Re-encrypt ``token`` under the primary key.

        The token is always authenticated first (DecryptionError if it does not verify); a valid token that
        is already under the primary key is returned unchanged.
        """
        plaintext = self.decrypt(token, associated_data=associated_data)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, associated_data=associated_data)

    def encrypt_text(self, text: str, *, associated_data: bytes) -> str:
        return self.encrypt(_utf8(text, what="text"), associated_data=associated_data)

    def decrypt_text(self, token: str, *, associated_data: bytes) -> str:
        plaintext = self.decrypt(token, associated_data=associated_data)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("decrypted data is not valid UTF-8") from None

    # -- blind indexes --------------------------------------------------------------------------------

    def blind_index(self, value: str, *, purpose: str) -> str:
        """Deterministic keyed index of an (already normalised) value; hex HMAC-SHA256.

        ``purpose`` (e.g. ``"phone"``, ``"email"``) selects an independent HKDF subkey, so indexes made for
        different purposes cannot be correlated.
        """
        if not isinstance(purpose, str) or not _PURPOSE_RE.fullmatch(purpose):
            raise ValueError("purpose must match [a-z0-9][a-z0-9_.:-]{0,63}")
        subkey = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"blind-index:" + purpose.encode("ascii"),
        ).derive(self.blind_index_key)
        mac = hmac.HMAC(subkey, hashes.SHA256())
        mac.update(_utf8(value, what="value"))
        return mac.finalize().hex()


if __name__ == "__main__":  # pragma: no cover - operator helper
    print(generate_key())
