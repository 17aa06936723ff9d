"""HPKE (RFC 9180) sealing of completed responses and export bundles to the research team's public key.

The server only ever holds the research team's *public* key: once sealed, a response cannot be read on the
server. The private key lives with the research team, stored as passphrase-encrypted PKCS#8 PEM.

Everything here is ``cryptography``'s own HPKE (``cryptography.hazmat.primitives.hpke``, single-shot base
mode). ``seal`` returns exactly ``Suite.encrypt``'s output (``enc || ciphertext``); the suite is not
recorded in it, so store the suite name next to the sealed bytes (e.g. in the row or the export manifest).

Suites (see :func:`supported_suites`):

* ``X25519-HKDF-SHA256-AES256GCM`` (default): KEM X25519, KDF HKDF-SHA256, AEAD AES-256-GCM.
* ``MLKEM768X25519-HKDF-SHA256-AES256GCM``: the hybrid post-quantum KEM ML-KEM-768 + X25519, when the
  installed ``cryptography`` and its OpenSSL offer it. ``cryptography`` exposes no serialisation for the
  combined key, so this module keeps the two component keys (:class:`HybridPublicKey`,
  :class:`HybridPrivateKey`) and serialises them as two standard PEM blocks (ML-KEM-768, then X25519).

Context binding: pass ``info=build_info(purpose=..., fields=...)``; opening requires the identical info, so a
sealed response cannot be replayed as another participant's, wave's or study's.

Fingerprints are ``"sha256:" + hex(SHA-256(raw public key))`` (64 hex digits). The raw public key is the
32-byte X25519 key, or for the hybrid suite the 1184-byte ML-KEM-768 encapsulation key followed by the
32-byte X25519 key.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

__all__ = [
    "DEFAULT_SUITE",
    "HYBRID_SUITE",
    "INFO_FORMAT",
    "HybridPrivateKey",
    "HybridPublicKey",
    "PrivateKey",
    "PublicKey",
    "SealingError",
    "SuiteId",
    "build_info",
    "fingerprint",
    "generate_keypair",
    "open_sealed",
    "private_key_from_encrypted_pem",
    "private_key_to_encrypted_pem",
    "public_key_from_pem",
    "public_key_to_pem",
    "seal",
    "supported_suites",
]

DEFAULT_SUITE = "X25519-HKDF-SHA256-AES256GCM"
HYBRID_SUITE = "MLKEM768X25519-HKDF-SHA256-AES256GCM"
INFO_FORMAT = "hpke-info/v1"
MIN_PASSPHRASE_BYTES = 12

_OPEN_FAILED = "cannot open: wrong key, wrong context, or tampered data"
_BAD_KEY_FILE = "wrong passphrase or corrupted key file"
_PEM_BLOCK_RE = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\r?\n(?P<body>[A-Za-z0-9+/=\r\n]*?)-----END (?P=label)-----"
)


class SealingError(Exception):
    """Sealing, opening or key handling failed. Messages never contain plaintext or key material."""


# -- hybrid key containers --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HybridPublicKey:
    """ML-KEM-768 + X25519 public key for the hybrid suite (components kept for serialisation)."""

    mlkem_key: mlkem.MLKEM768PublicKey
    x25519_key: x25519.X25519PublicKey

    def public_bytes_raw(self) -> bytes:
        """ML-KEM-768 encapsulation key (1184 bytes) followed by the X25519 key (32 bytes)."""
        return self.mlkem_key.public_bytes_raw() + self.x25519_key.public_bytes_raw()

    def to_hpke(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(self.mlkem_key, self.x25519_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridPublicKey) and self.public_bytes_raw() == other.public_bytes_raw()

    def __hash__(self) -> int:
        return hash(self.public_bytes_raw())


@dataclass(frozen=True, eq=False, repr=False)
class HybridPrivateKey:
    """ML-KEM-768 + X25519 private key for the hybrid suite."""

    mlkem_key: mlkem.MLKEM768PrivateKey
    x25519_key: x25519.X25519PrivateKey

    def public_key(self) -> HybridPublicKey:
        return HybridPublicKey(self.mlkem_key.public_key(), self.x25519_key.public_key())

    def to_hpke(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(self.mlkem_key, self.x25519_key)

    def __repr__(self) -> str:
        return "HybridPrivateKey(<hidden>)"


PrivateKey: TypeAlias = x25519.X25519PrivateKey | HybridPrivateKey
PublicKey: TypeAlias = x25519.X25519PublicKey | HybridPublicKey


# -- suites -----------------------------------------------------------------------------------------------


@functools.cache
def _hybrid_available() -> bool:
    if not (hasattr(hpke.KEM, "MLKEM768_X25519") and hasattr(hpke, "MLKEM768X25519PublicKey")):
        return False
    try:
        mlkem.MLKEM768PrivateKey.generate()
    except UnsupportedAlgorithm:
        return False
    return True


def supported_suites() -> tuple[str, ...]:
    """Suite names usable with this installation, default first."""
    return (DEFAULT_SUITE, HYBRID_SUITE) if _hybrid_available() else (DEFAULT_SUITE,)


@dataclass(frozen=True)
class SuiteId:
    """A validated HPKE suite name; raises SealingError for unknown or unavailable suites."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in supported_suites():
            raise SealingError(
                f"unsupported HPKE suite {self.name!r}; supported: {', '.join(supported_suites())}"
            )

    @property
    def is_hybrid(self) -> bool:
        return self.name == HYBRID_SUITE

    def hpke_suite(self) -> hpke.Suite:
        kem = hpke.KEM.MLKEM768_X25519 if self.is_hybrid else hpke.KEM.X25519
        return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _check_public_key(public_key: object, suite: SuiteId) -> PublicKey:
    if suite.is_hybrid:
        if isinstance(public_key, HybridPublicKey):
            return public_key
    elif isinstance(public_key, x25519.X25519PublicKey):
        return public_key
    raise SealingError(f"public key type {type(public_key).__name__} does not match suite {suite.name}")


def _check_private_key(private_key: object, suite: SuiteId) -> PrivateKey:
    if suite.is_hybrid:
        if isinstance(private_key, HybridPrivateKey):
            return private_key
    elif isinstance(private_key, x25519.X25519PrivateKey):
        return private_key
    raise SealingError(f"private key type {type(private_key).__name__} does not match suite {suite.name}")


# -- keys -------------------------------------------------------------------------------------------------


def generate_keypair(*, suite: str = DEFAULT_SUITE) -> tuple[PrivateKey, PublicKey]:
    """New recipient key pair for ``suite`` (meant for the research team's machine, not the server)."""
    if SuiteId(suite).is_hybrid:
        hybrid = HybridPrivateKey(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())
        return hybrid, hybrid.public_key()
    private_key = x25519.X25519PrivateKey.generate()
    return private_key, private_key.public_key()


def _spki_pem(key: x25519.X25519PublicKey | mlkem.MLKEM768PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_to_pem(public_key: PublicKey) -> str:
    """SubjectPublicKeyInfo PEM; two blocks (ML-KEM-768 then X25519) for a hybrid key."""
    if isinstance(public_key, HybridPublicKey):
        return _spki_pem(public_key.mlkem_key) + _spki_pem(public_key.x25519_key)
    if isinstance(public_key, x25519.X25519PublicKey):
        return _spki_pem(public_key)
    raise SealingError(f"unsupported public key type {type(public_key).__name__}")


def _pem_blocks(text: str, *, what: str) -> list[tuple[str, bytes]]:
    """Split PEM text into (label, block bytes); anything but blocks and whitespace is an error."""
    blocks = [(m.group("label"), m.group(0).encode("ascii")) for m in _PEM_BLOCK_RE.finditer(text)]
    if not blocks or _PEM_BLOCK_RE.sub("", text).strip():
        raise SealingError(f"{what} is not valid PEM")
    return blocks


def public_key_from_pem(pem: str, *, suite: str = DEFAULT_SUITE) -> PublicKey:
    """Load a public key written by :func:`public_key_to_pem`, checking that it fits ``suite``."""
    suite_id = SuiteId(suite)
    if isinstance(pem, bytes):
        try:
            pem = pem.decode("ascii")
        except UnicodeDecodeError:
            raise SealingError("public key is not valid PEM") from None
    if not isinstance(pem, str):
        raise SealingError("public key PEM must be a str")
    blocks = _pem_blocks(pem, what="public key")
    keys: list[object] = []
    for label, block in blocks:
        if label != "PUBLIC KEY":
            raise SealingError(f"expected 'PUBLIC KEY' PEM blocks, found {label!r}")
        try:
            keys.append(serialization.load_pem_public_key(block))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SealingError("public key PEM is corrupted or of an unsupported type") from None
    if suite_id.is_hybrid:
        mlkem_keys = [k for k in keys if isinstance(k, mlkem.MLKEM768PublicKey)]
        x_keys = [k for k in keys if isinstance(k, x25519.X25519PublicKey)]
        if len(keys) != 2 or len(mlkem_keys) != 1 or len(x_keys) != 1:
            raise SealingError(f"suite {suite} needs one ML-KEM-768 and one X25519 public key PEM block")
        return HybridPublicKey(mlkem_keys[0], x_keys[0])
    if len(keys) != 1 or not isinstance(keys[0], x25519.X25519PublicKey):
        kinds = ", ".join(type(k).__name__ for k in keys)
        raise SealingError(f"suite {suite} needs exactly one X25519 public key, found: {kinds}")
    return keys[0]


def _check_passphrase(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes):
        raise SealingError("passphrase must be bytes")
    if len(passphrase) < MIN_PASSPHRASE_BYTES:
        raise SealingError(f"passphrase must be at least {MIN_PASSPHRASE_BYTES} bytes")


def private_key_to_encrypted_pem(private_key: PrivateKey, *, passphrase: bytes) -> bytes:
    """Passphrase-encrypted PKCS#8 PEM (``BestAvailableEncryption``); two blocks for a hybrid key."""
    _check_passphrase(passphrase)
    encryption = serialization.BestAvailableEncryption(passphrase)

    def one(key: x25519.X25519PrivateKey | mlkem.MLKEM768PrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    if isinstance(private_key, HybridPrivateKey):
        return one(private_key.mlkem_key) + one(private_key.x25519_key)
    if isinstance(private_key, x25519.X25519PrivateKey):
        return one(private_key)
    raise SealingError(f"unsupported private key type {type(private_key).__name__}")


def private_key_from_encrypted_pem(data: bytes, *, passphrase: bytes, suite: str | None = None) -> PrivateKey:
    """Load a key written by :func:`private_key_to_encrypted_pem`.

    The key kind is read from the file; pass ``suite`` to also insist that it matches that suite.
    """
    if not isinstance(passphrase, bytes) or not passphrase:
        raise SealingError("passphrase must be non-empty bytes")
    if not isinstance(data, bytes):
        raise SealingError("key file data must be bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SealingError(_BAD_KEY_FILE) from None
    try:
        blocks = _pem_blocks(text, what="key file")
    except SealingError:
        raise SealingError(_BAD_KEY_FILE) from None
    keys: list[object] = []
    for label, block in blocks:
        if label != "ENCRYPTED PRIVATE KEY":
            raise SealingError("key file must contain only passphrase-encrypted PKCS#8 private keys")
        try:
            keys.append(serialization.load_pem_private_key(block, password=passphrase))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SealingError(_BAD_KEY_FILE) from None
    result: PrivateKey
    if len(keys) == 1 and isinstance(keys[0], x25519.X25519PrivateKey):
        result = keys[0]
    elif (
        len(keys) == 2
        and isinstance(keys[0], mlkem.MLKEM768PrivateKey)
        and isinstance(keys[1], x25519.X25519PrivateKey)
    ):
        result = HybridPrivateKey(keys[0], keys[1])
    else:
        raise SealingError("key file does not hold an X25519 or ML-KEM-768+X25519 private key")
    if suite is not None:
        _check_private_key(result, SuiteId(suite))
    return result


def fingerprint(public_key: PublicKey) -> str:
    """``"sha256:"`` + 64 hex digits of SHA-256 over the raw public key bytes (see module docstring)."""
    if not isinstance(public_key, HybridPublicKey | x25519.X25519PublicKey):
        raise SealingError(f"unsupported public key type {type(public_key).__name__}")
    digest = hashes.Hash(hashes.SHA256())
    digest.update(public_key.public_bytes_raw())
    return "sha256:" + digest.finalize().hex()


# -- context and sealing ----------------------------------------------------------------------------------


def build_info(*, purpose: str, fields: Mapping[str, str]) -> bytes:
    """Canonical, injective encoding of the sealing context, for HPKE ``info``.

    ASCII JSON of ``{"fields": {...}, "format": "hpke-info/v1", "purpose": purpose}`` with sorted keys, no
    whitespace and ``\\uXXXX`` escapes for non-ASCII. JSON parsing inverts it, so distinct inputs can never
    give the same bytes (e.g. ``{"a": "b|c"}`` vs ``{"a|b": "c"}``).
    """
    if not isinstance(purpose, str) or not purpose:
        raise SealingError("purpose must be a non-empty str")
    if not isinstance(fields, Mapping):
        raise SealingError("fields must be a mapping of str to str")
    for key, value in fields.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise SealingError("fields must be a mapping of str to str")
    document = {"fields": dict(fields), "format": INFO_FORMAT, "purpose": purpose}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def seal(plaintext: bytes, *, public_key: PublicKey, info: bytes, suite: str = DEFAULT_SUITE) -> bytes:
    """HPKE base-mode single-shot encryption to ``public_key``; returns ``enc || ciphertext``."""
    suite_id = SuiteId(suite)
    key = _check_public_key(public_key, suite_id)
    if not isinstance(plaintext, bytes):
        raise SealingError("plaintext must be bytes")
    if not isinstance(info, bytes) or not info:
        raise SealingError("info must be non-empty bytes (use build_info)")
    recipient = key.to_hpke() if isinstance(key, HybridPublicKey) else key
    try:
        return suite_id.hpke_suite().encrypt(plaintext, recipient, info=info)
    except (ValueError, TypeError) as exc:
        raise SealingError(f"sealing failed ({type(exc).__name__})") from None


def open_sealed(sealed: bytes, *, private_key: PrivateKey, info: bytes, suite: str = DEFAULT_SUITE) -> bytes:
    """Inverse of :func:`seal`; any authentication or format failure raises the same SealingError."""
    suite_id = SuiteId(suite)
    key = _check_private_key(private_key, suite_id)
    if not isinstance(sealed, bytes) or not isinstance(info, bytes):
        raise SealingError("sealed data and info must be bytes")
    recipient = key.to_hpke() if isinstance(key, HybridPrivateKey) else key
    try:
        return suite_id.hpke_suite().decrypt(sealed, recipient, info=info)
    except Exception:  # InvalidTag, ValueError (short input, bad enc), ...: one answer for all
        raise SealingError(_OPEN_FAILED) from None
