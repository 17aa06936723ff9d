"""Contact details under the server key ring: stored as tokens, rotated to a new key, bound to their row."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from backend.errors import Conflict
from participants.crypto.keyring import DecryptionError, KeyRing, generate_key
from participants.keys import keyring
from participants.models import (
    AuditEntry,
    ConsentRecord,
    ConsentText,
    ContactProfile,
    Participant,
    PhoneNumber,
    Site,
    Withdrawal,
)
from participants.services import contacts, register

OLD_SPEC = settings.FIELD_ENCRYPTION_KEYS  # "test2:...,test1:..." in backend/settings/test.py
NEW_SPEC = f"test3:{generate_key()},{OLD_SPEC}"


@pytest.fixture
def layla(site_a: Site, fatima_user: User, consent_text: ConsentText) -> Participant:
    """A participant with every contact field filled in, and a second number."""
    participant = register.participant_enroll(
        site=site_a, by=fatima_user, preferred_language="ar", country_of_origin="SY", country_of_departure="KE",
        birth_year=1994, enrolled_on=timezone.localdate(), name="Layla Nasser", phone="+46701000100",
        email="layla@example.org",
        consent=register.ConsentInput(consent_text=consent_text, language="ar", method=ConsentRecord.Method.ON_SCREEN),
    ).participant  # fmt: skip
    contacts.phone_add(participant=participant, phone="+46735550100")
    return participant


def _stored_tokens() -> list[str]:
    phones = list(PhoneNumber.objects.values_list("number_encrypted", flat=True))
    profiles = ContactProfile.objects.values_list("name_encrypted", "email_encrypted")
    return phones + [token for pair in profiles for token in pair if token]


def _rotate() -> str:
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)
    return out.getvalue().strip()


def test_contact_values_are_stored_as_tokens_of_the_primary_key(layla: Participant) -> None:
    # given
    profile = ContactProfile.objects.get(participant=layla)

    # then
    assert keyring().primary_id == "test2"
    assert len(_stored_tokens()) == 4
    assert all(token.startswith("v1.test2.") for token in _stored_tokens())
    assert "Layla" not in profile.name_encrypted
    assert contacts.contact_decrypt(layla).name == "Layla Nasser"


def test_rotation_re_encrypts_every_value_under_the_new_key_and_contacts_still_decrypt(
    layla: Participant, amira_participant: Participant
) -> None:
    # given
    before = contacts.contact_decrypt(layla), contacts.contact_decrypt(amira_participant)

    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC):
        # when
        output = _rotate()

        # then
        assert keyring().primary_id == "test3"
        assert (
            output
            == "Re-encrypted under key 'test3': 3 phone, 2 name, 1 email, 0 withdrawal_reason, 0 draft."
        )
        assert len(_stored_tokens()) == 6
        assert all(token.startswith("v1.test3.") for token in _stored_tokens())
        assert (contacts.contact_decrypt(layla), contacts.contact_decrypt(amira_participant)) == before
        assert (
            _rotate()
            == "Re-encrypted under key 'test3': 0 phone, 0 name, 0 email, 0 withdrawal_reason, 0 draft."
        )

    rotated = AuditEntry.objects.filter(action=AuditEntry.Action.KEYS_ROTATED).order_by("pk")
    assert [entry.details for entry in rotated] == [
        {"primary_key_id": "test3", "phone": 3, "name": 2, "email": 1, "withdrawal_reason": 0, "draft": 0},
        {"primary_key_id": "test3", "phone": 0, "name": 0, "email": 0, "withdrawal_reason": 0, "draft": 0},
    ]


def test_after_rotation_the_old_keys_can_be_dropped(layla: Participant) -> None:
    # given
    before = contacts.contact_decrypt(layla)
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC):
        _rotate()

    # when: only the new key is left
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC.split(",")[0]):
        after = contacts.contact_decrypt(layla)

    # then
    assert after == before
    assert after.phone == "+46735550100"
    assert [entry.number for entry in after.phones] == ["+46735550100", "+46701000100"]


def test_a_withdrawal_reason_is_rotated_too_and_read_after_the_old_keys_are_dropped(
    layla: Participant,
) -> None:
    # given layla stopped contact, giving a reason, under the old key
    register.participant_withdraw(
        participant=layla, scope="stop_contact", reason="Moving to Norway with Omar"
    )

    # when
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC):
        output = _rotate()

    # then
    assert ", 1 withdrawal_reason, " in output
    withdrawal = Withdrawal.objects.select_related("participant").get(participant=layla)
    assert withdrawal.reason_encrypted.startswith("v1.test3.")
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC.split(",")[0]):
        assert register.withdrawal_reason(withdrawal) == "Moving to Norway with Omar"


def test_a_contact_changed_while_the_keys_are_rotated_keeps_its_new_value(
    layla: Participant, fatima_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given staff correct layla's e-mail address after the rotation read her row, before it writes it back
    real_rotate = KeyRing.rotate

    def rotate_while_staff_edit(ring: KeyRing, token: str, *, associated_data: bytes) -> str:
        rotated = real_rotate(ring, token, associated_data=associated_data)
        if associated_data == f"participants:name:{layla.pseudonym}".encode():
            contacts.contact_set(participant=layla, email="layla.nasser@example.org", by=fatima_user)
        return rotated

    monkeypatch.setattr(KeyRing, "rotate", rotate_while_staff_edit)

    # when
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC):
        counts = contacts.contacts_rotate_keys()
        after = contacts.contact_decrypt(layla)

    # then the corrected address is kept (written under the new key), the name is rotated
    assert (after.name, after.email) == ("Layla Nasser", "layla.nasser@example.org")
    assert (counts["name"], counts["email"]) == (1, 0)
    assert all(token.startswith("v1.test3.") for token in _stored_tokens())


def test_without_rotation_dropping_the_old_keys_loses_the_contacts(layla: Participant) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC.split(",")[0]), pytest.raises(DecryptionError):
        contacts.contact_decrypt(layla)


def test_duplicate_numbers_are_still_found_after_rotation(layla: Participant) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_SPEC):
        _rotate()
        with pytest.raises(Conflict) as refused:
            contacts.check_phone_free(study_id=layla.study_id, e164="+46701000100")

    assert refused.value.field == "phone"


def test_a_phone_number_copied_onto_another_participants_row_does_not_decrypt(
    layla: Participant, amira_participant: Participant
) -> None:
    # given: someone with database access moves layla's number onto amira's row
    laylas = PhoneNumber.objects.filter(participant=layla).values_list("number_encrypted", flat=True).first()
    PhoneNumber.objects.filter(participant=amira_participant).update(number_encrypted=laylas)

    # then
    with pytest.raises(DecryptionError):
        contacts.contact_decrypt(amira_participant)


def test_a_name_copied_onto_another_participants_row_does_not_decrypt(
    layla: Participant, amira_participant: Participant
) -> None:
    # given
    laylas = ContactProfile.objects.get(participant=layla).name_encrypted
    ContactProfile.objects.filter(participant=amira_participant).update(name_encrypted=laylas)

    # then
    with pytest.raises(DecryptionError):
        contacts.contact_decrypt(amira_participant)


def test_a_value_moved_to_another_column_of_the_same_row_does_not_decrypt(layla: Participant) -> None:
    # given: the e-mail token written into the name column
    profile = ContactProfile.objects.get(participant=layla)
    ContactProfile.objects.filter(pk=profile.pk).update(name_encrypted=profile.email_encrypted)

    # then
    with pytest.raises(DecryptionError):
        contacts.contact_decrypt(layla)
