"""The research team's public keys: registered and retired by study admins (audited), rotated without
losing access to what was sealed before, and made on the researcher's machine by ``study_keygen``."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from participants.crypto import sealing
from participants.models import AuditEntry, Participant, Response, StudyKey
from participants.responses.opening import open_response
from surveys.models import Study, Wave
from tests.participants.responses.conftest import answer_fully, post_complete, post_page, run_together

PASSPHRASE = "correct horse battery staple"


def keys_url(study: Study) -> str:
    return f"/api/v1/studies/{study.pk}/keys/"


def retire_url(key_id: int) -> str:
    return f"/api/v1/keys/{key_id}/retire/"


def _pem(public_key: sealing.PublicKey) -> str:
    return sealing.public_key_to_pem(public_key)


def _sealed_of(participant: Participant, wave: Wave) -> Response:
    return Response.objects.select_related("participant__study", "wave").get(
        participant=participant, wave=wave
    )


def _opens_with(response: Response, private_key: sealing.PrivateKey) -> bool:
    try:
        open_response(response, private_key=private_key)
    except sealing.SealingError:
        return False
    return True


# --- registering ------------------------------------------------------------------------------------------


def test_a_study_admin_registers_a_public_key(study: Study, sara: APIClient, sara_user: User) -> None:
    # given
    _, public_key = sealing.generate_keypair()
    # when
    response = sara.post(
        keys_url(study), {"public_key_pem": _pem(public_key), "label": "2027 key"}, format="json"
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    fingerprint = sealing.fingerprint(public_key)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint)
    assert {name: body[name] for name in ("suite", "fingerprint", "label", "public_key_pem", "retired_at", "active")} == {
        "suite": sealing.DEFAULT_SUITE, "fingerprint": fingerprint, "label": "2027 key",
        "public_key_pem": _pem(public_key), "retired_at": None, "active": True,
    }  # fmt: skip
    key = StudyKey.objects.get()
    assert (key.pk, key.study_id, key.registered_by_id) == (body["id"], study.pk, sara_user.pk)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.STUDY_KEY_REGISTERED)
    assert (entry.actor_id, entry.study_id) == (sara_user.pk, study.pk)
    assert entry.details == {"fingerprint": fingerprint, "suite": sealing.DEFAULT_SUITE}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_key_registered_by_many_requests_at_once_is_stored_once_and_the_others_are_told(
    study: Study, sara_user: User
) -> None:
    # given eight requests registering one key, each on its own connection
    pem = _pem(sealing.generate_keypair()[1])

    def register() -> Any:
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(sara_user)
        return client.post(keys_url(study), {"public_key_pem": pem, "label": "twice"}, format="json")

    # when they arrive together
    replies = run_together(8, register)
    # then
    assert sorted(getattr(reply, "status_code", reply) for reply in replies) == [201] + [409] * 7
    assert {reply.json()["code"] for reply in replies if reply.status_code == 409} == {"conflict"}
    assert StudyKey.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.STUDY_KEY_REGISTERED).count() == 1


def test_a_study_admin_lists_the_studys_keys_newest_first(study: Study, sara: APIClient) -> None:
    # given
    first = _pem(sealing.generate_keypair()[1])
    second = _pem(sealing.generate_keypair()[1])
    sara.post(keys_url(study), {"public_key_pem": first}, format="json")
    sara.post(keys_url(study), {"public_key_pem": second}, format="json")
    # when
    response = sara.get(keys_url(study))
    # then
    assert response.status_code == 200
    assert [key["public_key_pem"] for key in response.json()] == [second, first]


@pytest.mark.parametrize("persona", ["rita", "fatima", "outsider"])
def test_only_study_admins_may_see_or_register_keys(
    study: Study, persona: str, request: pytest.FixtureRequest
) -> None:
    # given
    client: APIClient = request.getfixturevalue(persona)
    # when
    listed = client.get(keys_url(study))
    registered = client.post(
        keys_url(study), {"public_key_pem": _pem(sealing.generate_keypair()[1])}, format="json"
    )
    # then existence is not disclosed
    assert (listed.status_code, registered.status_code) == (404, 404)
    assert StudyKey.objects.count() == 0


def test_participants_and_anonymous_callers_may_not_register_keys(
    study: Study, amira: APIClient, anon: APIClient
) -> None:
    # when
    as_participant = amira.post(
        keys_url(study), {"public_key_pem": _pem(sealing.generate_keypair()[1])}, format="json"
    )
    as_anon = anon.post(
        keys_url(study), {"public_key_pem": _pem(sealing.generate_keypair()[1])}, format="json"
    )
    # then
    assert (as_participant.status_code, as_anon.status_code) == (403, 401)
    assert StudyKey.objects.count() == 0


def _ed25519_public_pem() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _private_pem() -> str:
    return (
        x25519.X25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param("not a key at all", id="text"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", id="corrupt-block"),
        pytest.param(_ed25519_public_pem(), id="ed25519-public-key"),
        pytest.param(_private_pem(), id="a-private-key"),
        pytest.param(_pem(sealing.generate_keypair()[1]) + "trailing words", id="trailing-text"),
    ],
)
def test_garbage_instead_of_a_public_key_is_refused_naming_the_field(
    study: Study, sara: APIClient, garbage: str
) -> None:
    # when
    response = sara.post(keys_url(study), {"public_key_pem": garbage}, format="json")
    # then
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid", "public_key_pem")
    assert StudyKey.objects.count() == 0


def test_a_key_registered_twice_is_a_conflict(study: Study, sara: APIClient) -> None:
    # given
    pem = _pem(sealing.generate_keypair()[1])
    assert sara.post(keys_url(study), {"public_key_pem": pem}, format="json").status_code == 201
    # when
    response = sara.post(keys_url(study), {"public_key_pem": pem}, format="json")
    # then
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("conflict", "public_key_pem")
    assert StudyKey.objects.count() == 1


# --- rotation and retirement ------------------------------------------------------------------------------


def test_after_rotation_new_responses_are_sealed_to_the_new_key_and_old_ones_still_open_with_the_old(
    wave: Wave, study: Study, study_key: Any, research_keypair: Any, sara: APIClient,
    amira_participant: Participant, amira: APIClient, bashir_participant: Participant, bashir: APIClient,
) -> None:  # fmt: skip
    # given amira completed under key 1
    assert [response.status_code for response in answer_fully(amira, wave)] == [200, 200, 200]
    old_private = research_keypair[0]
    new_private, new_public = sealing.generate_keypair()
    # when sara registers key 2 and bashir completes afterwards
    registered = sara.post(
        keys_url(study), {"public_key_pem": _pem(new_public), "label": "2027"}, format="json"
    )
    bashirs_answers = answer_fully(bashir, wave)
    # then
    assert registered.status_code == 201
    assert bashirs_answers[2].json()["key_fingerprint"] == registered.json()["fingerprint"]
    amiras, bashirs = _sealed_of(amira_participant, wave), _sealed_of(bashir_participant, wave)
    assert (amiras.key_fingerprint, bashirs.key_fingerprint) == (
        study_key.fingerprint,
        registered.json()["fingerprint"],
    )
    assert (amiras.study_key_id, bashirs.study_key_id) == (study_key.pk, registered.json()["id"])
    assert (_opens_with(amiras, old_private), _opens_with(amiras, new_private)) == (True, False)
    assert (_opens_with(bashirs, old_private), _opens_with(bashirs, new_private)) == (False, True)


def test_a_study_admin_retires_a_key_once_and_it_is_audited(
    study: Study, study_key: Any, sara: APIClient, sara_user: User
) -> None:
    # when
    first = sara.post(retire_url(study_key.pk))
    again = sara.post(retire_url(study_key.pk))
    # then
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["active"], first.json()["retired_at"] is not None) == (False, True)
    assert again.json()["retired_at"] == first.json()["retired_at"]
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.STUDY_KEY_RETIRED)
    assert [(entry.actor_id, entry.study_id, entry.details) for entry in entries] == [
        (sara_user.pk, study.pk, {"fingerprint": study_key.fingerprint})
    ]


@pytest.mark.parametrize("persona", ["rita", "fatima", "outsider"])
def test_only_study_admins_may_retire_keys(
    study_key: Any, persona: str, request: pytest.FixtureRequest
) -> None:
    # given
    client: APIClient = request.getfixturevalue(persona)
    # when
    response = client.post(retire_url(study_key.pk))
    # then
    assert response.status_code == 404
    assert StudyKey.objects.get().retired_at is None
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.STUDY_KEY_RETIRED).exists()


def test_retiring_the_only_key_stops_answering(
    wave: Wave, study_key: Any, sara: APIClient, amira: APIClient
) -> None:
    # given amira has a page in
    assert post_page(amira, wave, "family", {"Q1": "1", "Q49": 4}).status_code == 200
    assert post_page(amira, wave, "work", {"EMPLOYED": "no"}).status_code == 200
    # when the only key is retired
    assert sara.post(retire_url(study_key.pk)).status_code == 200
    page = post_page(amira, wave, "family", {"Q1": "2", "Q49": 4})
    done = post_complete(amira, wave)
    # then
    assert (page.status_code, page.json()["code"]) == (409, "no_study_key")
    assert (done.status_code, done.json()["code"]) == (409, "no_study_key")
    assert Response.objects.get().status == "in_progress"


def test_responses_sealed_to_a_retired_key_still_open_with_its_private_key(
    wave: Wave, study: Study, study_key: Any, research_keypair: Any, sara: APIClient,
    amira_participant: Participant, amira: APIClient,
) -> None:  # fmt: skip
    # given
    assert [response.status_code for response in answer_fully(amira, wave)] == [200, 200, 200]
    sara.post(keys_url(study), {"public_key_pem": _pem(sealing.generate_keypair()[1])}, format="json")
    # when
    assert sara.post(retire_url(study_key.pk)).status_code == 200
    # then
    assert _opens_with(_sealed_of(amira_participant, wave), research_keypair[0]) is True


def test_retiring_the_newest_key_seals_new_responses_to_the_older_active_one(
    wave: Wave, study: Study, study_key: Any, research_keypair: Any, sara: APIClient,
    amira_participant: Participant, amira: APIClient,
) -> None:  # fmt: skip
    # given key 2 was registered and then retired
    newer = sara.post(keys_url(study), {"public_key_pem": _pem(sealing.generate_keypair()[1])}, format="json")
    assert sara.post(retire_url(newer.json()["id"])).status_code == 200
    # when
    answers = answer_fully(amira, wave)
    # then
    assert answers[2].json()["key_fingerprint"] == study_key.fingerprint
    assert _opens_with(_sealed_of(amira_participant, wave), research_keypair[0]) is True


hybrid_only = pytest.mark.skipif(
    sealing.HYBRID_SUITE not in sealing.supported_suites(), reason="no ML-KEM in this cryptography build"
)


@hybrid_only
def test_a_post_quantum_hybrid_key_seals_responses_that_only_its_private_key_opens(
    wave: Wave, study: Study, study_key: Any, research_keypair: Any, sara: APIClient,
    amira_participant: Participant, amira: APIClient,
) -> None:  # fmt: skip
    # given
    hybrid_private, hybrid_public = sealing.generate_keypair(suite=sealing.HYBRID_SUITE)
    registered = sara.post(
        keys_url(study), {"public_key_pem": _pem(hybrid_public), "suite": sealing.HYBRID_SUITE}, format="json"
    )
    # when
    answers = answer_fully(amira, wave)
    # then
    assert registered.status_code == 201, registered.content
    assert registered.json()["fingerprint"] == sealing.fingerprint(hybrid_public)
    sealed = _sealed_of(amira_participant, wave)
    assert (sealed.suite, sealed.key_fingerprint) == (
        sealing.HYBRID_SUITE,
        answers[2].json()["key_fingerprint"],
    )
    assert open_response(sealed, private_key=hybrid_private)["answers"] == {
        "Q1": "1", "Q49": 4, "EMPLOYED": "yes", "HOURS": 20,
    }  # fmt: skip
    with pytest.raises(sealing.SealingError):
        open_response(sealed, private_key=research_keypair[0])


@hybrid_only
def test_an_x25519_key_is_refused_for_the_hybrid_suite(study: Study, sara: APIClient) -> None:
    # when
    response = sara.post(
        keys_url(study),
        {"public_key_pem": _pem(sealing.generate_keypair()[1]), "suite": sealing.HYBRID_SUITE},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid", "public_key_pem")


# --- study_keygen, run on the researcher's machine --------------------------------------------------------


def _keygen(tmp_path: Path, passphrase: str = PASSPHRASE, *options: str) -> tuple[Path, Path, str]:
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(passphrase + "\n")
    private_path, public_path = tmp_path / "study.key", tmp_path / "study.pub"
    out = io.StringIO()
    call_command(
        "study_keygen", "--private-key", str(private_path), "--public-key", str(public_path),
        "--passphrase-file", str(passphrase_file), *options, stdout=out,
    )  # fmt: skip
    return private_path, public_path, out.getvalue()


def test_study_keygen_writes_an_encrypted_private_key_readable_only_by_its_owner(tmp_path: Path) -> None:
    # given a permissive umask, so the mode must come from the command itself
    previous = os.umask(0)
    try:
        # when
        private_path, _, _ = _keygen(tmp_path)
    finally:
        os.umask(previous)
    # then
    data = private_path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    with pytest.raises(sealing.SealingError):
        sealing.private_key_from_encrypted_pem(data, passphrase=b"not the passphrase")


def test_study_keygen_public_key_registers_with_the_printed_fingerprint_and_opens_what_it_sealed(
    tmp_path: Path,
    study: Study,
    wave: Wave,
    sara: APIClient,
    amira_participant: Participant,
    amira: APIClient,
) -> None:
    # given
    private_path, public_path, printed = _keygen(tmp_path)
    private_key = sealing.private_key_from_encrypted_pem(
        private_path.read_bytes(), passphrase=PASSPHRASE.encode(), suite=sealing.DEFAULT_SUITE
    )
    # when the public key is registered and amira completes her wave
    registered = sara.post(keys_url(study), {"public_key_pem": public_path.read_text()}, format="json")
    answer_fully(amira, wave)
    # then
    assert registered.status_code == 201, registered.content
    fingerprint = registered.json()["fingerprint"]
    assert fingerprint == sealing.fingerprint(private_key.public_key())
    assert f"Fingerprint: {fingerprint}" in printed.splitlines()
    assert f"Private key (encrypted): {private_path}" in printed.splitlines()
    assert f"Public key: {public_path}" in printed.splitlines()
    assert open_response(_sealed_of(amira_participant, wave), private_key=private_key)["answers"] == {
        "Q1": "1", "Q49": 4, "EMPLOYED": "yes", "HOURS": 20,
    }  # fmt: skip


@hybrid_only
def test_study_keygen_makes_a_hybrid_key_pair_on_request(
    tmp_path: Path, study: Study, sara: APIClient
) -> None:
    # when
    private_path, public_path, printed = _keygen(tmp_path, PASSPHRASE, "--suite", sealing.HYBRID_SUITE)
    # then
    data = private_path.read_bytes()
    assert data.count(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") == 2
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    private_key = sealing.private_key_from_encrypted_pem(
        data, passphrase=PASSPHRASE.encode(), suite=sealing.HYBRID_SUITE
    )
    registered = sara.post(
        keys_url(study),
        {"public_key_pem": public_path.read_text(), "suite": sealing.HYBRID_SUITE},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    assert registered.json()["fingerprint"] == sealing.fingerprint(private_key.public_key())
    assert f"Fingerprint: {registered.json()['fingerprint']}" in printed.splitlines()


def test_study_keygen_refuses_to_overwrite_a_private_key(tmp_path: Path) -> None:
    # given
    private_path, _, _ = _keygen(tmp_path)
    before = private_path.read_bytes()
    # when / then
    with pytest.raises(CommandError):
        _keygen(tmp_path)
    assert private_path.read_bytes() == before


def test_study_keygen_refuses_a_short_passphrase_and_writes_nothing(tmp_path: Path) -> None:
    # when / then
    with pytest.raises(CommandError):
        _keygen(tmp_path, passphrase="short")
    assert (tmp_path / "study.key").exists() is False
    assert (tmp_path / "study.pub").exists() is False
