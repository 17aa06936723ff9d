"""The server key ring, built once from settings (FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from participants.crypto.keyring import KeyRing, KeyRingError


@lru_cache(maxsize=4)
def _build(spec: str, blind_index_key: str) -> KeyRing:
    try:
        return KeyRing.from_config(spec, blind_index_key=blind_index_key)
    except KeyRingError as error:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS / BLIND_INDEX_KEY: {error}") from None


def keyring() -> KeyRing:
    return _build(settings.FIELD_ENCRYPTION_KEYS, settings.BLIND_INDEX_KEY)


def associated_data(column: str, pseudonym: str) -> bytes:
    """Binds an encrypted value to its column and participant: copied elsewhere, it will not decrypt."""
    return f"participants:{column}:{pseudonym}".encode()


def value_encrypt(column: str, pseudonym: str, value: str) -> str:
    """A participant's value (a contact detail, a withdrawal reason) as a token bound to its column and owner."""
    return keyring().encrypt_text(value, associated_data=associated_data(column, pseudonym))


def value_decrypt(column: str, pseudonym: str, token: str) -> str:
    """The value of ``value_encrypt``'s token ("" for no token)."""
    if not token:
        return ""
    return keyring().decrypt_text(token, associated_data=associated_data(column, pseudonym))
