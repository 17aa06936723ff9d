"""Contact details: validated, normalised, encrypted; every view and change audited.

Also the rotation of the server key ring (``contacts_rotate_keys``), which covers the other values under it:
unfinished response drafts (``drafts_rotate_keys`` in the responses services).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import phonenumbers
from django.contrib.auth.models import User
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.errors import Conflict, DomainError
from participants.audit import audit_record
from participants.keys import associated_data, keyring, value_decrypt, value_encrypt
from participants.models import AuditEntry, Channel, ContactProfile, Participant, PhoneNumber, Withdrawal
from participants.responses.services import drafts_rotate_keys

PHONE_PURPOSE = "phone"
WITHDRAWAL_REASON = "withdrawal_reason"  # the column bound into a withdrawal reason's associated data
EMAIL_PURPOSE = "email"


def normalize_phone(raw: str, *, default_region: str | None = None) -> str:
    """E.164 form of a phone number, or a DomainError saying why it is not one."""
    if len(raw) > 40:
        raise DomainError("A phone number has at most 40 characters.", field="phone")
    raw = raw.strip()
    if raw.startswith("00"):  # the international prefix most of the world dials
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise DomainError(
            "Not a phone number; write it in international form, e.g. +46 70 123 45 67.", field="phone"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise DomainError("This phone number does not exist in its country's numbering plan.", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    email = raw.strip()
    try:
        validate_email(email)
    except Exception:
        raise DomainError("Not a valid e-mail address.", field="email") from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_not_erased(participant: Participant) -> None:
    if participant.erased_at is not None:
        raise Conflict("This participant's data was erased; no contact details can be stored.")


def phone_blind_index(e164: str) -> str:
    return keyring().blind_index(e164, purpose=PHONE_PURPOSE)


def check_phone_free(*, study_id: int, e164: str, exclude_participant_id: int | None = None) -> None:
    taken = PhoneNumber.objects.filter(
        study_id=study_id, blind_index=phone_blind_index(e164), retired_at=None
    )
    if exclude_participant_id is not None:
        taken = taken.exclude(participant_id=exclude_participant_id)
    if taken.exists():
        raise Conflict("This phone number is already enrolled in this study.", field="phone")


def _encrypt(participant: Participant, column: str, value: str) -> str:
    return value_encrypt(column, participant.pseudonym, value)


def _decrypt(participant: Participant, column: str, token: str) -> str:
    return value_decrypt(column, participant.pseudonym, token)


@transaction.atomic
def phone_add(
    *,
    participant: Participant,
    phone: str,
    valid_from: datetime.date | None = None,
    confirmed: bool = True,
    by: User | None = None,
    by_participant: bool = False,
    audit: bool = True,
) -> PhoneNumber:
    """A new number (e.g. a Swedish SIM after arrival); earlier ones stay in the history."""
    check_not_erased(participant)
    e164 = normalize_phone(phone, default_region="SE" if participant.arrived_on else participant.site.country)
    check_phone_free(study_id=participant.study_id, e164=e164, exclude_participant_id=participant.pk)
    existing = participant.phone_numbers.filter(blind_index=phone_blind_index(e164), retired_at=None).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            added = PhoneNumber.objects.create(
                participant=participant,
                study_id=participant.study_id,
                number_encrypted=_encrypt(participant, "phone", e164),
                blind_index=phone_blind_index(e164),
                valid_from=valid_from or timezone.localdate(),
                confirmed_at=timezone.now() if confirmed else None,
            )
    except IntegrityError:
        raise Conflict("This phone number is already enrolled in this study.", field="phone") from None
    if audit:
        audit_record(
            action=AuditEntry.Action.CONTACT_CHANGED, actor=by, actor_participant=participant.pseudonym if by_participant else "",
            study=participant.study, participant=participant.pseudonym, details={"fields": ["phone"]},
        )  # fmt: skip
    return added


# The ContactProfile columns each field of contact_set writes.
_COLUMNS_OF = {
    "name": ("name_encrypted",),
    "email": ("email_encrypted", "email_blind_index"),
    "preferred_channel": ("preferred_channel",),
    "whatsapp_opt_in": ("whatsapp_opt_in",),
}


@transaction.atomic
def contact_set(
    *,
    participant: Participant,
    name: str | None = None,
    email: str | None = None,
    preferred_channel: str | None = None,
    whatsapp_opt_in: bool | None = None,
    by: User | None = None,
    by_participant: bool = False,
) -> ContactProfile:
    check_not_erased(participant)
    profile, _ = ContactProfile.objects.get_or_create(participant=participant)
    changed: list[str] = []
    if name is not None:
        profile.name_encrypted = _encrypt(participant, "name", name.strip()) if name.strip() else ""
        changed.append("name")
    if email is not None:
        if email.strip():
            normalized = normalize_email(email)
            profile.email_encrypted = _encrypt(participant, "email", normalized)
            profile.email_blind_index = keyring().blind_index(normalized.lower(), purpose=EMAIL_PURPOSE)
        else:
            profile.email_encrypted = profile.email_blind_index = ""
        changed.append("email")
    if preferred_channel is not None:
        if preferred_channel not in Channel.values:
            raise DomainError(f"Unknown channel '{preferred_channel}'.", field="preferred_channel")
        profile.preferred_channel = preferred_channel
        changed.append("preferred_channel")
    if whatsapp_opt_in is not None:
        profile.whatsapp_opt_in = whatsapp_opt_in
        changed.append("whatsapp_opt_in")
    if changed:
        # Only the columns given: a concurrent change of another one (or the key rotation) is not undone.
        columns = [column for name in changed for column in _COLUMNS_OF[name]]
        profile.save(update_fields=[*columns, "updated_at"])
        audit_record(
            action=AuditEntry.Action.CONTACT_CHANGED,
            actor=by,
            actor_participant=participant.pseudonym if by_participant else "",
            study=participant.study,
            participant=participant.pseudonym,
            details={"fields": changed},
        )
    return profile


@dataclass(frozen=True)
class PhoneEntry:
    number: str = field(repr=False)  # contact details stay out of repr() (tracebacks, debug prints)
    valid_from: datetime.date
    confirmed: bool
    current: bool


@dataclass(frozen=True)
class ContactDetails:
    name: str = field(repr=False)
    email: str = field(repr=False)
    preferred_channel: str
    whatsapp_opt_in: bool
    phones: list[PhoneEntry]

    @property
    def phone(self) -> str:
        """The number messages go to: the newest confirmed current one."""
        return next((entry.number for entry in self.phones if entry.current and entry.confirmed), "")


def contact_decrypt(participant: Participant) -> ContactDetails:
    """Decrypt without auditing: for the system's own use (sending a message), never for showing."""
    profile = ContactProfile.objects.filter(participant=participant).first()
    phones = [
        PhoneEntry(
            number=_decrypt(participant, "phone", row.number_encrypted),
            valid_from=row.valid_from,
            confirmed=row.confirmed_at is not None,
            current=row.retired_at is None,
        )
        for row in participant.phone_numbers.order_by("-valid_from", "-pk")
    ]
    return ContactDetails(
        name=_decrypt(participant, "name", profile.name_encrypted) if profile else "",
        email=_decrypt(participant, "email", profile.email_encrypted) if profile else "",
        preferred_channel=profile.preferred_channel if profile else Channel.SMS,
        whatsapp_opt_in=profile.whatsapp_opt_in if profile else False,
        phones=phones,
    )


def contact_view(
    *, participant: Participant, by: User | None = None, by_participant: bool = False
) -> ContactDetails:
    """Decrypt to show a person; every such view lands in the audit log."""
    details = contact_decrypt(participant)
    audit_record(
        action=AuditEntry.Action.CONTACT_VIEWED,
        actor=by,
        actor_participant=participant.pseudonym if by_participant else "",
        study=participant.study,
        participant=participant.pseudonym,
    )
    return details


def contacts_rotate_keys(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every contact value, withdrawal reason and draft not yet under the newest key; safe to run
    again."""
    ring = keyring()
    counts = {"phone": 0, "name": 0, "email": 0, "withdrawal_reason": 0, "draft": 0}
    # Each write is conditional on the token read, column by column: a value changed meanwhile (staff corrected
    # an e-mail address) is newer, already under the newest key, and is kept rather than overwritten.
    for phone in PhoneNumber.objects.select_related("participant").iterator(chunk_size=batch_size):
        if ring.needs_rotation(phone.number_encrypted):
            aad = associated_data("phone", phone.participant.pseudonym)
            counts["phone"] += PhoneNumber.objects.filter(
                pk=phone.pk, number_encrypted=phone.number_encrypted
            ).update(number_encrypted=ring.rotate(phone.number_encrypted, associated_data=aad))
    for profile in ContactProfile.objects.select_related("participant").iterator(chunk_size=batch_size):
        for column in ("name", "email"):
            token = getattr(profile, f"{column}_encrypted")
            if token and ring.needs_rotation(token):
                aad = associated_data(column, profile.participant.pseudonym)
                counts[column] += ContactProfile.objects.filter(
                    pk=profile.pk, **{f"{column}_encrypted": token}
                ).update(**{f"{column}_encrypted": ring.rotate(token, associated_data=aad)})
    withdrawals = Withdrawal.objects.exclude(reason_encrypted="").select_related("participant")
    for withdrawal in withdrawals.iterator(chunk_size=batch_size):
        token = withdrawal.reason_encrypted
        if ring.needs_rotation(token):
            aad = associated_data(WITHDRAWAL_REASON, withdrawal.participant.pseudonym)
            counts["withdrawal_reason"] += Withdrawal.objects.filter(
                pk=withdrawal.pk, reason_encrypted=token
            ).update(reason_encrypted=ring.rotate(token, associated_data=aad))
    counts["draft"] = drafts_rotate_keys(ring=ring, batch_size=batch_size)
    audit_record(action=AuditEntry.Action.KEYS_ROTATED, details={"primary_key_id": ring.primary_id, **counts})
    return counts
