"""Behaviour of the server key ring: AES-256-GCM tokens, rotation, configuration errors, blind indexes."""

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from participants.crypto.keyring import DecryptionError, KeyRing, KeyRingError, generate_key

AD = b"participant:42:phone"


def _key_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


OLD_KEY = _key_text(bytes(range(32)))
NEW_KEY = _key_text(bytes(range(100, 132)))
BLIND_KEY = _key_text(bytes(range(200, 232)))
OTHER_BLIND_KEY = _key_text(bytes(range(50, 82)))


def _ring(spec: str = f"old:{OLD_KEY}", blind: str = BLIND_KEY) -> KeyRing:
    return KeyRing.from_config(spec, blind_index_key=blind)


def _split(token: str) -> tuple[str, str, bytes]:
    version, kid, body = token.split(".")
    return version, kid, base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _join(version: str, kid: str, raw: bytes) -> str:
    return f"{version}.{kid}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


# -- round trip and token format ---------------------------------------------------------------------


def test_encrypt_then_decrypt_returns_the_plaintext() -> None:
    ring = _ring()
    token = ring.encrypt(b"+46701234567", associated_data=AD)
    assert ring.decrypt(token, associated_data=AD) == b"+46701234567"


def test_token_is_ascii_v1_kid_body_with_nonce_ciphertext_and_tag() -> None:
    token = _ring().encrypt(b"hello", associated_data=AD)
    version, kid, raw = _split(token)
    assert token.isascii()
    assert (version, kid) == ("v1", "old")
    assert len(raw) == 12 + len(b"hello") + 16
    assert "=" not in token


def test_same_plaintext_encrypted_twice_gives_different_tokens() -> None:
    ring = _ring()
    first = ring.encrypt(b"same", associated_data=AD)
    second = ring.encrypt(b"same", associated_data=AD)
    assert first != second
    assert _split(first)[2][:12] != _split(second)[2][:12]


def test_text_helpers_round_trip_utf8() -> None:
    ring = _ring()
    token = ring.encrypt_text("Åsa Ödegård, دمشق", associated_data=AD)
    assert ring.decrypt_text(token, associated_data=AD) == "Åsa Ödegård, دمشق"
    assert ring.decrypt(token, associated_data=AD) == "Åsa Ödegård, دمشق".encode()


def test_decrypt_text_of_non_utf8_bytes_raises_decryption_error() -> None:
    ring = _ring()
    token = ring.encrypt(b"\xff\xfe", associated_data=AD)
    with pytest.raises(DecryptionError, match="not valid UTF-8"):
        ring.decrypt_text(token, associated_data=AD)


@given(plaintext=st.binary(max_size=2048), associated_data=st.binary(max_size=256))
def test_any_plaintext_and_associated_data_round_trip(plaintext: bytes, associated_data: bytes) -> None:
    ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    token = ring.encrypt(plaintext, associated_data=associated_data)
    assert ring.decrypt(token, associated_data=associated_data) == plaintext


# -- authentication failures ----------------------------------------------------------------------------


def test_flipping_any_byte_of_nonce_ciphertext_or_tag_raises_decryption_error() -> None:
    ring = _ring()
    token = ring.encrypt(b"secret phone", associated_data=AD)
    version, kid, raw = _split(token)
    for position in range(len(raw)):
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError, match="authentication failed") as excinfo:
            ring.decrypt(_join(version, kid, bytes(tampered)), associated_data=AD)
        assert "secret phone" not in str(excinfo.value)


def test_truncated_token_raises_decryption_error() -> None:
    ring = _ring()
    version, kid, raw = _split(ring.encrypt(b"x", associated_data=AD))
    with pytest.raises(DecryptionError, match="too short"):
        ring.decrypt(_join(version, kid, raw[:27]), associated_data=AD)
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt(_join(version, kid, raw[:-1]), associated_data=AD)


def test_wrong_associated_data_raises_decryption_error() -> None:
    ring = _ring()
    token = ring.encrypt(b"secret", associated_data=b"participant:1")
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt(token, associated_data=b"participant:2")
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt(token, associated_data=b"")


def test_relabelling_token_with_another_existing_kid_raises_decryption_error() -> None:
    ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    token = ring.encrypt(b"secret", associated_data=AD)
    assert token.startswith("v1.new.")
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt("v1.old." + token.removeprefix("v1.new."), associated_data=AD)


def test_key_id_is_bound_even_when_two_ids_share_one_key() -> None:
    # Only the AAD binding can catch this: the key itself would decrypt.
    ring = _ring(f"alias:{OLD_KEY},old:{OLD_KEY}")
    token = ring.encrypt(b"secret", associated_data=AD)
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt("v1.old." + token.removeprefix("v1.alias."), associated_data=AD)


def test_unknown_kid_raises_decryption_error_naming_the_kid() -> None:
    token = _ring(f"gone:{NEW_KEY}").encrypt(b"secret", associated_data=AD)
    with pytest.raises(DecryptionError, match="unknown key id 'gone'"):
        _ring().decrypt(token, associated_data=AD)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "malformed token"),
        ("v1.old", "malformed token"),
        ("v1.old.AAAA.AAAA", "malformed token"),
        ("v2.old.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unsupported token version"),
        ("v1.OLD.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid key id"),
        ("v1.old.AAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not base64url"),
        ("v1.old.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "not base64url"),
        ("v1.old.AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAA", "not base64url"),
        ("v1.old.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAÄ", "not base64url"),
        ("v1.old.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "bad length"),
    ],
)
def test_malformed_tokens_raise_decryption_error(token: str, message: str) -> None:
    with pytest.raises(DecryptionError, match=message):
        _ring().decrypt(token, associated_data=AD)


def test_non_canonical_base64_body_is_rejected() -> None:
    ring = _ring()
    token = ring.encrypt(b"x", associated_data=AD)  # 29 raw bytes -> 39 chars, last char has 2 unused bits
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) ^ 0x01]  # flips only an unused low bit
    assert _split(token[:-1] + sibling)[2] == _split(token)[2]
    with pytest.raises(DecryptionError, match="not canonical"):
        ring.decrypt(token[:-1] + sibling, associated_data=AD)


@given(garbage=st.text(max_size=80))
def test_arbitrary_strings_only_ever_raise_decryption_error(garbage: str) -> None:
    ring = _ring()
    for token in (garbage, "v1.old." + garbage):
        with pytest.raises(DecryptionError):
            ring.decrypt(token, associated_data=AD)


@given(plaintext=st.binary(max_size=64))
def test_every_token_body_is_canonical_unpadded_base64url(plaintext: bytes) -> None:
    token = _ring().encrypt(plaintext, associated_data=AD)
    body = token.split(".")[2]
    assert body == base64.urlsafe_b64encode(_split(token)[2]).decode().rstrip("=")


# -- rotation ---------------------------------------------------------------------------------------------


def test_old_token_still_decrypts_after_a_new_primary_is_added_first() -> None:
    token = _ring(f"old:{OLD_KEY}").encrypt(b"draft", associated_data=AD)
    rotated_ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    assert rotated_ring.primary_id == "new"
    assert rotated_ring.decrypt(token, associated_data=AD) == b"draft"


def test_rotate_moves_token_to_primary_with_same_plaintext() -> None:
    token = _ring(f"old:{OLD_KEY}").encrypt(b"draft", associated_data=AD)
    ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    assert ring.key_id_of(token) == "old"
    assert ring.needs_rotation(token) is True

    rotated = ring.rotate(token, associated_data=AD)

    assert ring.key_id_of(rotated) == "new"
    assert ring.needs_rotation(rotated) is False
    assert ring.decrypt(rotated, associated_data=AD) == b"draft"
    assert _ring(f"new:{NEW_KEY}").decrypt(rotated, associated_data=AD) == b"draft"


def test_rotate_returns_same_token_when_already_under_primary() -> None:
    ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    token = ring.encrypt(b"draft", associated_data=AD)
    assert ring.rotate(token, associated_data=AD) == token


def test_rotate_refuses_tampered_or_misbound_tokens() -> None:
    ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    current = ring.encrypt(b"draft", associated_data=AD)
    old = _ring(f"old:{OLD_KEY}").encrypt(b"draft", associated_data=AD)
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.rotate(current, associated_data=b"other")
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.rotate(old, associated_data=b"other")


# -- configuration --------------------------------------------------------------------------------------


def test_from_config_first_entry_is_primary_and_whitespace_is_tolerated() -> None:
    ring = KeyRing.from_config(f" k2026-05 : {NEW_KEY} , k2025:{OLD_KEY}", blind_index_key=BLIND_KEY)
    assert ring.primary_id == "k2026-05"
    assert list(ring.keys) == ["k2026-05", "k2025"]
    assert ring.keys["k2025"] == bytes(range(32))
    assert ring.blind_index_key == bytes(range(200, 232))


def test_from_config_accepts_unpadded_keys() -> None:
    ring = _ring(f"old:{OLD_KEY.rstrip('=')}", blind=BLIND_KEY.rstrip("="))
    assert ring.keys["old"] == bytes(range(32))


SHORT_KEY = _key_text(b"\x07" * 16)
NON_B64_KEY = "not!base64$$key$material$$$$$$$$$$$$$$$$$$$"


@pytest.mark.parametrize(
    ("spec", "blind", "message", "secret"),
    [
        ("", BLIND_KEY, "key ring spec is empty", None),
        ("   ", BLIND_KEY, "key ring spec is empty", None),
        (
            f"a:{SHORT_KEY}",
            BLIND_KEY,
            "key 'a' \\(entry #1\\): must decode to exactly 32 bytes, got 16",
            SHORT_KEY,
        ),
        (
            f"a:{OLD_KEY},b:{NON_B64_KEY}",
            BLIND_KEY,
            "key 'b' \\(entry #2\\): not valid base64url",
            NON_B64_KEY,
        ),
        (f"a:{OLD_KEY},a:{NEW_KEY}", BLIND_KEY, "entry #2: duplicate key id 'a'", NEW_KEY),
        (f"a:{OLD_KEY},{NEW_KEY}", BLIND_KEY, "entry #2: expected 'kid:base64urlkey'", NEW_KEY),
        (f"a:{OLD_KEY},,b:{NEW_KEY}", BLIND_KEY, "entry #2: expected 'kid:base64urlkey'", None),
        (f"Bad_Id:{OLD_KEY}", BLIND_KEY, "entry #1: key id must match", OLD_KEY),
        (f"a-very-long-key-id:{OLD_KEY}", BLIND_KEY, "entry #1: key id must match", OLD_KEY),
        (f"a:{OLD_KEY},b:", BLIND_KEY, "key 'b' \\(entry #2\\): is empty", None),
        (f"a:{OLD_KEY[:-1]}==", BLIND_KEY, "key 'a' \\(entry #1\\): not valid base64url", OLD_KEY[:-1]),
        (f"a:{OLD_KEY[:-2]}9", BLIND_KEY, "key 'a' \\(entry #1\\): not valid base64url", OLD_KEY[:-2]),
        (f"a:{OLD_KEY}", "", "blind index key: is empty", None),
        (f"a:{OLD_KEY}", SHORT_KEY, "blind index key: must decode to exactly 32 bytes", SHORT_KEY),
        (f"a:{OLD_KEY}", NON_B64_KEY, "blind index key: not valid base64url", NON_B64_KEY),
        (f"a:{OLD_KEY}", OLD_KEY, "blind index key must differ from every encryption key", OLD_KEY),
    ],
)
def test_from_config_rejects_bad_specs_without_echoing_key_text(
    spec: str, blind: str, message: str, secret: str | None
) -> None:
    with pytest.raises(KeyRingError, match=message) as excinfo:
        KeyRing.from_config(spec, blind_index_key=blind)
    text = str(excinfo.value)
    for key_text in filter(None, [secret, OLD_KEY, NEW_KEY, SHORT_KEY, NON_B64_KEY, BLIND_KEY]):
        assert key_text not in text
        assert key_text[:12] not in text


def test_key_ring_error_is_a_value_error() -> None:
    assert issubclass(KeyRingError, ValueError)


def test_direct_construction_validates_and_copies_keys() -> None:
    keys = {"a": bytes(32)}
    ring = KeyRing(keys=keys, primary_id="a", blind_index_key=b"\x01" * 32)
    keys["b"] = bytes(32)
    assert list(ring.keys) == ["a"]
    with pytest.raises(KeyRingError, match="primary key id is not in the key ring"):
        KeyRing(keys={"a": bytes(32)}, primary_id="b", blind_index_key=b"\x01" * 32)
    with pytest.raises(KeyRingError, match="must be exactly 32 bytes"):
        KeyRing(keys={"a": bytes(31)}, primary_id="a", blind_index_key=b"\x01" * 32)


def test_repr_and_str_hide_key_material() -> None:
    ring = _ring(f"new:{NEW_KEY},old:{OLD_KEY}")
    for text in (repr(ring), str(ring), f"{ring}"):
        assert text == "KeyRing(key_ids=['new', 'old'], primary_id='new', keys=<hidden>)"
        for secret in (bytes(range(32)), bytes(range(100, 132)), bytes(range(200, 232))):
            assert repr(secret) not in text
            assert secret.hex() not in text


def test_generate_key_makes_distinct_32_byte_base64url_keys_usable_in_a_spec() -> None:
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.urlsafe_b64decode(first)) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    ring = KeyRing.from_config(f"k1:{first}", blind_index_key=second)
    assert ring.decrypt(ring.encrypt(b"ok", associated_data=b""), associated_data=b"") == b"ok"


# -- blind indexes --------------------------------------------------------------------------------------


def test_blind_index_is_deterministic_hex_sha256() -> None:
    ring = _ring()
    first = ring.blind_index("+46701234567", purpose="phone")
    assert first == _ring().blind_index("+46701234567", purpose="phone")
    assert len(first) == 64
    assert int(first, 16) >= 0


def test_blind_index_matches_hkdf_subkey_then_hmac_construction() -> None:
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    subkey = HKDF(hashes.SHA256(), 32, salt=None, info=b"blind-index:phone").derive(bytes(range(200, 232)))
    mac = hmac.HMAC(subkey, hashes.SHA256())
    mac.update(b"+46701234567")
    assert _ring().blind_index("+46701234567", purpose="phone") == mac.finalize().hex()


def test_blind_index_differs_by_value_by_purpose_and_by_blind_key() -> None:
    ring = _ring()
    base = ring.blind_index("+46701234567", purpose="phone")
    assert ring.blind_index("+46701234568", purpose="phone") != base
    assert ring.blind_index("+46701234567", purpose="email") != base
    assert _ring(blind=OTHER_BLIND_KEY).blind_index("+46701234567", purpose="phone") != base


def test_blind_index_does_not_depend_on_encryption_keys() -> None:
    assert _ring(f"old:{OLD_KEY}").blind_index("x", purpose="phone") == _ring(f"new:{NEW_KEY}").blind_index(
        "x", purpose="phone"
    )


def test_blind_index_rejects_empty_or_odd_purpose() -> None:
    ring = _ring()
    for purpose in ("", "Phone", "phone number", "x" * 65):
        with pytest.raises(ValueError, match="purpose must match"):
            ring.blind_index("+46701234567", purpose=purpose)


def test_unencodable_text_raises_value_error_without_echoing_it() -> None:
    ring = _ring()
    with pytest.raises(ValueError, match="value is not encodable as UTF-8") as excinfo:
        ring.blind_index("secret\ud800", purpose="phone")
    assert "secret" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__ is True
    with pytest.raises(ValueError, match="text is not encodable as UTF-8"):
        ring.encrypt_text("secret\ud800", associated_data=AD)


def test_nonces_do_not_repeat_over_many_encryptions() -> None:
    ring = _ring()
    nonces = {_split(ring.encrypt(b"", associated_data=AD))[2][:12] for _ in range(2000)}
    assert len(nonces) == 2000


def test_key_material_fixtures_are_distinct() -> None:
    # Guards the tests above: they would prove little if the fixture keys coincided.
    assert len({OLD_KEY, NEW_KEY, BLIND_KEY, OTHER_BLIND_KEY, _key_text(os.urandom(32))}) == 5
