"""Behaviour of HPKE sealing: round trips per suite, context binding, key files, fingerprints, info."""

import json

import pytest
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given
from hypothesis import strategies as st

from participants.crypto.sealing import (
    DEFAULT_SUITE,
    HYBRID_SUITE,
    HybridPrivateKey,
    HybridPublicKey,
    SealingError,
    SuiteId,
    build_info,
    fingerprint,
    generate_keypair,
    open_sealed,
    private_key_from_encrypted_pem,
    private_key_to_encrypted_pem,
    public_key_from_pem,
    public_key_to_pem,
    seal,
    supported_suites,
)

HYBRID_OFFERED = hasattr(hpke.KEM, "MLKEM768_X25519")
SUITES = [
    DEFAULT_SUITE,
    pytest.param(HYBRID_SUITE, marks=pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")),
]
OPEN_FAILED = "cannot open: wrong key, wrong context, or tampered data"
PASSPHRASE = b"correct horse battery staple"
RESPONSE = json.dumps({"q1": "Syria", "q2": ["Arabic", "Swedish"], "q3": 4}).encode() * 40


def _info(**overrides: str) -> bytes:
    fields = {"study": "panel-se", "participant": "p-7f3a", "wave": "3", "version": "2", "response": "r-991"}
    fields.update(overrides)
    return build_info(purpose="response", fields=fields)


# -- suites ---------------------------------------------------------------------------------------------


def test_default_suite_is_x25519_hkdf_sha256_aes256gcm_and_listed_first() -> None:
    assert DEFAULT_SUITE == "X25519-HKDF-SHA256-AES256GCM"
    assert supported_suites()[0] == DEFAULT_SUITE


@pytest.mark.skipif(not HYBRID_OFFERED, reason="installed cryptography has no MLKEM768_X25519 KEM")
def test_hybrid_post_quantum_suite_is_supported_when_cryptography_offers_it() -> None:
    assert supported_suites() == (DEFAULT_SUITE, "MLKEM768X25519-HKDF-SHA256-AES256GCM")
    assert SuiteId(HYBRID_SUITE).is_hybrid is True


def test_unknown_suite_is_refused_with_clear_message() -> None:
    with pytest.raises(SealingError, match="unsupported HPKE suite 'P256-HKDF-SHA256-AES128GCM'"):
        SuiteId("P256-HKDF-SHA256-AES128GCM")
    with pytest.raises(SealingError, match="unsupported HPKE suite"):
        generate_keypair(suite="nope")


# -- seal / open ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_seal_then_open_returns_the_plaintext(suite: str) -> None:
    private_key, public_key = generate_keypair(suite=suite)
    sealed = seal(RESPONSE, public_key=public_key, info=_info(), suite=suite)
    assert open_sealed(sealed, private_key=private_key, info=_info(), suite=suite) == RESPONSE


@pytest.mark.parametrize("suite", SUITES)
def test_sealed_output_is_enc_then_ciphertext_and_randomised(suite: str) -> None:
    _, public_key = generate_keypair(suite=suite)
    first = seal(b"same", public_key=public_key, info=_info(), suite=suite)
    second = seal(b"same", public_key=public_key, info=_info(), suite=suite)
    kem = hpke.KEM.MLKEM768_X25519 if suite == HYBRID_SUITE else hpke.KEM.X25519
    assert len(first) == kem.enc_length() + len(b"same") + 16
    assert first != second
    assert b"same" not in first


def test_sealed_output_interoperates_with_plain_cryptography_hpke() -> None:
    private_key, public_key = generate_keypair()
    assert isinstance(private_key, x25519.X25519PrivateKey)
    assert isinstance(public_key, x25519.X25519PublicKey)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    assert suite.decrypt(seal(b"hi", public_key=public_key, info=b"ctx"), private_key, info=b"ctx") == b"hi"
    assert (
        open_sealed(suite.encrypt(b"yo", public_key, info=b"ctx"), private_key=private_key, info=b"ctx")
        == b"yo"
    )


@pytest.mark.parametrize("suite", SUITES)
def test_flipping_a_byte_anywhere_makes_open_fail(suite: str) -> None:
    private_key, public_key = generate_keypair(suite=suite)
    sealed = seal(b"answers", public_key=public_key, info=_info(), suite=suite)
    enc_length = len(sealed) - len(b"answers") - 16
    # first byte of enc, last byte of enc, first ciphertext byte, last tag byte
    for position in (0, enc_length - 1, enc_length, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x80
        with pytest.raises(SealingError, match=OPEN_FAILED) as excinfo:
            open_sealed(bytes(tampered), private_key=private_key, info=_info(), suite=suite)
        assert "answers" not in str(excinfo.value)
        assert excinfo.value.__cause__ is None


@pytest.mark.parametrize("suite", SUITES)
def test_truncated_or_empty_sealed_data_fails_to_open(suite: str) -> None:
    private_key, public_key = generate_keypair(suite=suite)
    sealed = seal(b"answers", public_key=public_key, info=_info(), suite=suite)
    for broken in (b"", sealed[:10], sealed[:-1], sealed + b"\x00"):
        with pytest.raises(SealingError, match=OPEN_FAILED):
            open_sealed(broken, private_key=private_key, info=_info(), suite=suite)


@pytest.mark.parametrize("suite", SUITES)
def test_other_info_makes_open_fail(suite: str) -> None:
    private_key, public_key = generate_keypair(suite=suite)
    sealed = seal(b"answers", public_key=public_key, info=_info(), suite=suite)
    for other in (_info(participant="p-0000"), _info(wave="4"), build_info(purpose="export", fields={})):
        with pytest.raises(SealingError, match=OPEN_FAILED):
            open_sealed(sealed, private_key=private_key, info=other, suite=suite)


@pytest.mark.parametrize("suite", SUITES)
def test_other_private_key_makes_open_fail(suite: str) -> None:
    _, public_key = generate_keypair(suite=suite)
    other_private, _ = generate_keypair(suite=suite)
    sealed = seal(b"answers", public_key=public_key, info=_info(), suite=suite)
    with pytest.raises(SealingError, match=OPEN_FAILED):
        open_sealed(sealed, private_key=other_private, info=_info(), suite=suite)


@pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")
def test_hybrid_private_key_with_one_wrong_component_fails_to_open() -> None:
    private_key, public_key = generate_keypair(suite=HYBRID_SUITE)
    assert isinstance(private_key, HybridPrivateKey)
    sealed = seal(b"answers", public_key=public_key, info=_info(), suite=HYBRID_SUITE)
    wrong_x25519 = HybridPrivateKey(private_key.mlkem_key, x25519.X25519PrivateKey.generate())
    with pytest.raises(SealingError, match=OPEN_FAILED):
        open_sealed(sealed, private_key=wrong_x25519, info=_info(), suite=HYBRID_SUITE)


@pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")
def test_key_of_the_wrong_suite_is_refused() -> None:
    x_private, x_public = generate_keypair()
    h_private, h_public = generate_keypair(suite=HYBRID_SUITE)
    with pytest.raises(
        SealingError, match="public key type X25519PublicKey does not match suite MLKEM768X25519"
    ):
        seal(b"a", public_key=x_public, info=b"ctx", suite=HYBRID_SUITE)
    with pytest.raises(SealingError, match="public key type HybridPublicKey does not match suite X25519"):
        seal(b"a", public_key=h_public, info=b"ctx")
    sealed = seal(b"a", public_key=x_public, info=b"ctx")
    with pytest.raises(SealingError, match="private key type HybridPrivateKey does not match suite X25519"):
        open_sealed(sealed, private_key=h_private, info=b"ctx")


def test_seal_requires_bytes_and_a_non_empty_context() -> None:
    _, public_key = generate_keypair()
    with pytest.raises(SealingError, match="info must be non-empty bytes"):
        seal(b"a", public_key=public_key, info=b"")
    with pytest.raises(SealingError, match="plaintext must be bytes"):
        seal("a", public_key=public_key, info=b"ctx")  # type: ignore[arg-type]


# -- key files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_public_key_pem_round_trip_keeps_fingerprint(suite: str) -> None:
    private_key, public_key = generate_keypair(suite=suite)
    pem = public_key_to_pem(public_key)
    loaded = public_key_from_pem(pem, suite=suite)
    assert pem.count("-----BEGIN PUBLIC KEY-----") == (2 if suite == HYBRID_SUITE else 1)
    assert fingerprint(loaded) == fingerprint(public_key)
    assert public_key_to_pem(loaded) == pem
    sealed = seal(b"via pem", public_key=loaded, info=b"ctx", suite=suite)
    assert open_sealed(sealed, private_key=private_key, info=b"ctx", suite=suite) == b"via pem"


@pytest.mark.parametrize("suite", SUITES)
def test_encrypted_private_key_pem_round_trip(suite: str) -> None:
    private_key, public_key = generate_keypair(suite=suite)
    data = private_key_to_encrypted_pem(private_key, passphrase=PASSPHRASE)
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert b"PRIVATE KEY-----" in data
    loaded = private_key_from_encrypted_pem(data, passphrase=PASSPHRASE, suite=suite)
    assert fingerprint(loaded.public_key()) == fingerprint(public_key)
    sealed = seal(b"answers", public_key=public_key, info=b"ctx", suite=suite)
    assert open_sealed(sealed, private_key=loaded, info=b"ctx", suite=suite) == b"answers"


@pytest.mark.parametrize("suite", SUITES)
def test_wrong_passphrase_fails_with_clear_message(suite: str) -> None:
    private_key, _ = generate_keypair(suite=suite)
    data = private_key_to_encrypted_pem(private_key, passphrase=PASSPHRASE)
    with pytest.raises(SealingError, match="^wrong passphrase or corrupted key file$") as excinfo:
        private_key_from_encrypted_pem(data, passphrase=b"incorrect horse battery", suite=suite)
    assert excinfo.value.__cause__ is None


def test_corrupted_key_file_fails_with_the_same_message() -> None:
    private_key, _ = generate_keypair()
    data = private_key_to_encrypted_pem(private_key, passphrase=PASSPHRASE)
    lines = data.split(b"\n")
    lines[2] = lines[2][:10] + (b"A" if lines[2][10:11] != b"A" else b"B") + lines[2][11:]
    for broken in (b"\n".join(lines), b"garbage", b"", "é".encode()):
        with pytest.raises(SealingError, match="^wrong passphrase or corrupted key file$"):
            private_key_from_encrypted_pem(broken, passphrase=PASSPHRASE)


def test_unencrypted_private_key_file_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    plain = x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SealingError, match="only passphrase-encrypted PKCS#8"):
        private_key_from_encrypted_pem(plain, passphrase=PASSPHRASE)


@pytest.mark.parametrize("passphrase", [b"", b"short", b"elevenbytes"])
def test_short_passphrase_is_refused(passphrase: bytes) -> None:
    private_key, _ = generate_keypair()
    with pytest.raises(SealingError, match="passphrase must be at least 12 bytes"):
        private_key_to_encrypted_pem(private_key, passphrase=passphrase)


def test_twelve_byte_passphrase_is_accepted() -> None:
    private_key, public_key = generate_keypair()
    data = private_key_to_encrypted_pem(private_key, passphrase=b"twelve bytes")
    loaded = private_key_from_encrypted_pem(data, passphrase=b"twelve bytes")
    assert fingerprint(loaded.public_key()) == fingerprint(public_key)


@pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")
def test_loading_private_key_for_the_wrong_suite_is_refused() -> None:
    private_key, _ = generate_keypair()
    data = private_key_to_encrypted_pem(private_key, passphrase=PASSPHRASE)
    with pytest.raises(SealingError, match="does not match suite MLKEM768X25519"):
        private_key_from_encrypted_pem(data, passphrase=PASSPHRASE, suite=HYBRID_SUITE)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_public_key_from_pem_with_garbage_raises_sealing_error(garbage: str) -> None:
    with pytest.raises(SealingError, match="PEM"):
        public_key_from_pem(garbage)


def test_public_key_from_pem_with_trailing_junk_raises_sealing_error() -> None:
    _, public_key = generate_keypair()
    with pytest.raises(SealingError, match="public key is not valid PEM"):
        public_key_from_pem(public_key_to_pem(public_key) + "junk")


@pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")
def test_public_key_from_pem_checks_key_type_against_suite() -> None:
    _, x_public = generate_keypair()
    _, h_public = generate_keypair(suite=HYBRID_SUITE)
    with pytest.raises(SealingError, match="needs one ML-KEM-768 and one X25519 public key"):
        public_key_from_pem(public_key_to_pem(x_public), suite=HYBRID_SUITE)
    with pytest.raises(SealingError, match="needs exactly one X25519 public key"):
        public_key_from_pem(public_key_to_pem(h_public), suite=DEFAULT_SUITE)


def test_public_key_from_pem_refuses_other_key_algorithms() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(SealingError, match="needs exactly one X25519 public key, found: ECPublicKey$"):
        public_key_from_pem(p256_pem)


# -- fingerprints --------------------------------------------------------------------------------------


def test_fingerprint_is_sha256_hex_of_raw_public_key() -> None:
    _, public_key = generate_keypair()
    assert isinstance(public_key, x25519.X25519PublicKey)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(public_key.public_bytes_raw())
    assert fingerprint(public_key) == "sha256:" + digest.finalize().hex()


@pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")
def test_hybrid_fingerprint_covers_mlkem_then_x25519_raw_keys() -> None:
    _, public_key = generate_keypair(suite=HYBRID_SUITE)
    assert isinstance(public_key, HybridPublicKey)
    raw = public_key.public_bytes_raw()
    assert len(raw) == 1184 + 32
    assert raw[-32:] == public_key.x25519_key.public_bytes_raw()
    digest = hashes.Hash(hashes.SHA256())
    digest.update(raw)
    assert fingerprint(public_key) == "sha256:" + digest.finalize().hex()


@pytest.mark.parametrize("suite", SUITES)
def test_fingerprint_differs_between_keys(suite: str) -> None:
    fingerprints = {fingerprint(generate_keypair(suite=suite)[1]) for _ in range(5)}
    assert len(fingerprints) == 5
    assert all(len(fp) == len("sha256:") + 64 for fp in fingerprints)


@pytest.mark.skipif(not HYBRID_OFFERED, reason="no ML-KEM")
def test_hybrid_private_key_repr_hides_key_material() -> None:
    private_key, _ = generate_keypair(suite=HYBRID_SUITE)
    assert repr(private_key) == "HybridPrivateKey(<hidden>)"


# -- info encoding --------------------------------------------------------------------------------------


def test_build_info_is_canonical_sorted_json() -> None:
    info = build_info(purpose="response", fields={"wave": "3", "study": "panel-se"})
    assert info == b'{"fields":{"study":"panel-se","wave":"3"},"format":"hpke-info/v1","purpose":"response"}'
    assert info == build_info(purpose="response", fields={"study": "panel-se", "wave": "3"})


def test_build_info_separator_lookalikes_do_not_collide() -> None:
    assert build_info(purpose="p", fields={"a": "b|c"}) != build_info(purpose="p", fields={"a|b": "c"})
    assert build_info(purpose="p", fields={"a": "b,c"}) != build_info(purpose="p", fields={"a,b": "c"})
    assert build_info(purpose="p", fields={"a": 'b","c":"d'}) != build_info(
        purpose="p", fields={"a": "b", "c": "d"}
    )
    assert build_info(purpose="response", fields={}) != build_info(purpose="export", fields={})
    assert build_info(purpose="p", fields={"purpose": "q"}) != build_info(
        purpose="q", fields={"purpose": "p"}
    )


def test_build_info_is_ascii_even_for_non_ascii_and_surrogate_text() -> None:
    info = build_info(purpose="response", fields={"city": "Malmö", "odd": "\ud800"})
    assert info.isascii()
    assert json.loads(info)["fields"] == {"city": "Malmö", "odd": "\ud800"}


def test_build_info_rejects_non_string_fields() -> None:
    with pytest.raises(SealingError, match="fields must be a mapping of str to str"):
        build_info(purpose="response", fields={"wave": 3})  # type: ignore[dict-item]
    with pytest.raises(SealingError, match="purpose must be a non-empty str"):
        build_info(purpose="", fields={})


_text = st.text(max_size=12)
_contexts = st.tuples(st.text(min_size=1, max_size=8), st.dictionaries(_text, _text, max_size=4))


@given(first=_contexts, second=_contexts)
def test_build_info_is_injective(
    first: tuple[str, dict[str, str]], second: tuple[str, dict[str, str]]
) -> None:
    first_info = build_info(purpose=first[0], fields=first[1])
    second_info = build_info(purpose=second[0], fields=second[1])
    assert (first_info == second_info) == (first == second)


@given(context=_contexts)
def test_build_info_decodes_back_to_its_inputs(context: tuple[str, dict[str, str]]) -> None:
    purpose, fields = context
    decoded = json.loads(build_info(purpose=purpose, fields=fields))
    assert decoded == {"fields": fields, "format": "hpke-info/v1", "purpose": purpose}


@given(
    prefix=st.text(max_size=6),
    middle=st.sampled_from(["|", ",", ":", '"', "=", "\x00", "\\"]),
    suffix=st.text(max_size=6),
)
def test_build_info_moving_a_separator_between_key_and_value_changes_the_bytes(
    prefix: str, middle: str, suffix: str
) -> None:
    left = build_info(purpose="p", fields={prefix: middle + suffix})
    right = build_info(purpose="p", fields={prefix + middle: suffix})
    assert left != right
