"""Enrollment and the register's history: status, residence, interventions, consent, withdrawal, erasure."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.errors import Conflict, DomainError
from participants import codes
from participants.audit import audit_record
from participants.keys import value_decrypt, value_encrypt
from participants.models import (
    AuditEntry,
    Cohort,
    ConsentRecord,
    ConsentText,
    ContactProfile,
    GenderCategory,
    Intervention,
    InterventionType,
    Municipality,
    Participant,
    ParticipantWave,
    Residence,
    Site,
    StatusChange,
    Withdrawal,
)
from participants.models.register import validate_country
from participants.reminders.schedules import schedules_sync
from participants.reminders.services import reminders_cancel_for_participant
from participants.responses.services import responses_delete_for
from participants.services import access, contacts
from translations import registry


@dataclass(frozen=True)
class ConsentInput:
    consent_text: ConsentText
    language: str
    method: str
    witnessed_by: User | None = None
    given_at: datetime.datetime | None = None


@dataclass(frozen=True)
class EnrollmentResult:
    participant: Participant
    credentials: access.Credentials | None  # None when a retried request found its earlier enrollment
    created: bool


def check_demographics(
    *, site: Site, preferred_language: str, country_of_origin: str, country_of_departure: str, birth_year: int,
    enrolled_on: datetime.date, planned_departure_on: datetime.date | None,
) -> None:  # fmt: skip
    if not registry.is_known(preferred_language):
        raise DomainError(f"Unknown language code '{preferred_language}'.", field="preferred_language")
    for field_name, value in (
        ("country_of_origin", country_of_origin),
        ("country_of_departure", country_of_departure),
    ):
        try:
            validate_country(value)
        except ValidationError as error:
            raise DomainError(error.messages[0], field=field_name) from None
    this_year = timezone.localdate().year
    if not 1900 <= birth_year <= this_year:
        raise DomainError(f"The birth year must be between 1900 and {this_year}.", field="birth_year")
    if enrolled_on > timezone.localdate() + datetime.timedelta(days=1):
        raise DomainError("The enrollment date cannot be in the future.", field="enrolled_on")
    if planned_departure_on is not None and planned_departure_on < enrolled_on:
        raise DomainError("The planned departure cannot be before enrollment.", field="planned_departure_on")


def check_consent(*, participant_study_id: int, consent: ConsentInput, site: Site | None = None) -> None:
    if consent.consent_text.study_id != participant_study_id:
        raise DomainError("This consent text belongs to another study.", field="consent_text")
    if consent.language not in consent.consent_text.study.languages:
        raise DomainError(f"The consent text is not available in '{consent.language}'.", field="language")
    if consent.method == ConsentRecord.Method.READ_ALOUD and consent.witnessed_by is None:
        raise DomainError(
            "Consent read aloud must name the staff member who witnessed it.", field="witnessed_by"
        )
    if consent.method not in ConsentRecord.Method.values:
        raise DomainError(f"Unknown consent method '{consent.method}'.", field="method")


def _lookup(model: Any, *, study_id: int, code: str | None, field: str) -> Any:
    if not code:
        return None
    found = model.objects.filter(study_id=study_id, code=code).first()
    if found is None:
        raise DomainError(f"'{code}' is not a {field} of this study.", field=field)
    return found


def _cohort(site: Site, code: str | None) -> Cohort | None:
    """A cohort travels from one site: people of another site cannot join it."""
    if not code:
        return None
    found = Cohort.objects.filter(site=site, code=code).first()
    if found is None:
        raise DomainError(f"'{code}' is not a cohort of site {site.code}.", field="cohort")
    return found


def _create_with_pseudonym(**fields: Any) -> Participant:
    for _ in range(10):  # 40 random bits: a collision is rare, and the unique constraint catches it
        try:
            with transaction.atomic():
                return Participant.objects.create(pseudonym=codes.new_pseudonym(), **fields)
        except IntegrityError as error:
            if "enrollment" in str(error):
                raise
    raise Conflict("Could not allocate a pseudonym; try again.")


@transaction.atomic
def participant_enroll(
    *,
    site: Site,
    by: User,
    preferred_language: str,
    country_of_origin: str,
    country_of_departure: str,
    birth_year: int,
    enrolled_on: datetime.date,
    consent: ConsentInput,
    planned_departure_on: datetime.date | None = None,
    cohort: str | None = None,
    gender: str | None = None,
    name: str = "",
    phone: str = "",
    email: str = "",
    preferred_channel: str = "sms",
    whatsapp_opt_in: bool = False,
    request_id: uuid.UUID | None = None,
    audit: bool = True,
) -> EnrollmentResult:
    study_id = site.study_id
    if request_id is not None:
        earlier = Participant.objects.filter(study_id=study_id, enrollment_request_id=request_id).first()
        if earlier is not None and earlier.site_id != site.pk:
            raise Conflict(
                "This request_id was used for another enrollment; generate a new one.", field="request_id"
            )
        if earlier is not None:
            return EnrollmentResult(participant=earlier, credentials=None, created=False)
    check_demographics(
        site=site, preferred_language=preferred_language, country_of_origin=country_of_origin,
        country_of_departure=country_of_departure, birth_year=birth_year, enrolled_on=enrolled_on,
        planned_departure_on=planned_departure_on,
    )  # fmt: skip
    check_consent(participant_study_id=study_id, consent=consent, site=site)
    e164 = contacts.normalize_phone(phone, default_region=site.country) if phone else ""
    if e164:
        contacts.check_phone_free(study_id=study_id, e164=e164)
    if not e164 and not email:
        raise DomainError(
            "Give a phone number or an e-mail address, so the participant can be invited.", field="phone"
        )
    cohort_row = _cohort(site, cohort)
    try:
        participant = _create_with_pseudonym(
            study_id=study_id,
            site=site,
            cohort=cohort_row,
            preferred_language=preferred_language,
            country_of_origin=country_of_origin,
            country_of_departure=country_of_departure,
            birth_year=birth_year,
            gender=_lookup(GenderCategory, study_id=study_id, code=gender, field="gender"),
            enrolled_on=enrolled_on,
            planned_departure_on=planned_departure_on
            or (cohort_row.planned_departure_on if cohort_row else None),
            enrollment_request_id=request_id,
        )
    except IntegrityError:
        # Two copies of the same enrollment arrived at once: the other one won.
        transaction.set_rollback(True)
        raise Conflict("This enrollment request is being processed; retry to get its result.") from None
    StatusChange.objects.create(
        participant=participant,
        status=participant.status,
        changed_at=timezone.now(),
        changed_by=by,
        reason="enrolled",
    )
    if e164:
        contacts.phone_add(participant=participant, phone=e164, valid_from=enrolled_on, audit=False)
    contacts.contact_set(
        participant=participant, name=name, email=email, preferred_channel=preferred_channel,
        whatsapp_opt_in=whatsapp_opt_in, by=by,
    )  # fmt: skip
    consent_record(participant=participant, consent=consent, by=by, audit=audit)
    credentials = access.credentials_issue(participant=participant, by=by)
    schedules_sync(participant=participant)
    if audit:
        audit_record(
            action=AuditEntry.Action.ENROLLED, actor=by, study=site.study, participant=participant.pseudonym,
            details={"site": site.code},
        )  # fmt: skip
    return EnrollmentResult(participant=participant, credentials=credentials, created=True)


@transaction.atomic
def consent_record(
    *, participant: Participant, consent: ConsentInput, by: User | None, audit: bool = True
) -> ConsentRecord:
    check_consent(participant_study_id=participant.study_id, consent=consent, site=participant.site)
    record = ConsentRecord.objects.create(
        participant=participant,
        consent_text=consent.consent_text,
        language=consent.language,
        given_at=consent.given_at or timezone.now(),
        method=consent.method,
        witnessed_by=consent.witnessed_by,
        recorded_by=by,
    )
    if audit:
        audit_record(
            action=AuditEntry.Action.CONSENT_RECORDED, actor=by, study=participant.study,
            participant=participant.pseudonym,
            details={"consent_version": consent.consent_text.version, "method": consent.method},
        )  # fmt: skip
    return record


EDITABLE_FIELDS = frozenset(
    {"preferred_language", "planned_departure_on", "arrived_on", "cohort", "birth_year", "country_of_origin",
     "country_of_departure", "gender"}
)  # fmt: skip


@transaction.atomic
def participant_update(*, participant: Participant, by: User | None, **changes: Any) -> Participant:
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"'{sorted(unknown)[0]}' cannot be changed here.", field=sorted(unknown)[0])
    if "cohort" in changes:
        changes["cohort"] = _lookup(
            Cohort, study_id=participant.study_id, code=changes["cohort"], field="cohort"
        )
    if "gender" in changes:
        changes["gender"] = _lookup(
            GenderCategory, study_id=participant.study_id, code=changes["gender"], field="gender"
        )
    for name, value in changes.items():
        setattr(participant, name, value)
    check_demographics(
        site=participant.site, preferred_language=participant.preferred_language,
        country_of_origin=participant.country_of_origin, country_of_departure=participant.country_of_departure,
        birth_year=participant.birth_year, enrolled_on=participant.enrolled_on,
        planned_departure_on=participant.planned_departure_on,
    )  # fmt: skip
    if participant.arrived_on is not None and participant.arrived_on < participant.enrolled_on:
        raise DomainError("The arrival date cannot be before enrollment.", field="arrived_on")
    if participant.arrived_on is not None and participant.arrived_on > timezone.localdate():
        raise DomainError(
            "The arrival date cannot be in the future; record it once they have arrived.", field="arrived_on"
        )
    participant.save()
    if changes.keys() & {"planned_departure_on", "arrived_on"}:
        # Departure delayed, arrival entered late or corrected: windows move, what was sent or answered stays.
        schedules_sync(participant=participant)
    audit_record(
        action=AuditEntry.Action.EDITED, actor=by, study=participant.study, participant=participant.pseudonym,
        details={"fields": sorted(changes)},
    )  # fmt: skip
    return participant


ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Participant.Status.ENROLLED: {
        Participant.Status.ACTIVE,
        Participant.Status.WITHDRAWN,
        Participant.Status.LOST,
    },
    Participant.Status.ACTIVE: {
        Participant.Status.COMPLETED,
        Participant.Status.WITHDRAWN,
        Participant.Status.LOST,
    },
    Participant.Status.LOST: {Participant.Status.ACTIVE, Participant.Status.WITHDRAWN},
    Participant.Status.COMPLETED: set(),
    Participant.Status.WITHDRAWN: set(),
}


@transaction.atomic
def participant_set_status(
    *, participant: Participant, status: str, by: User | None, reason: str = ""
) -> Participant:
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if status == participant.status:
        return participant
    if status not in ALLOWED_TRANSITIONS.get(participant.status, set()):
        raise Conflict(f"A participant cannot go from {participant.status} to {status}.", field="status")
    participant.status = status
    participant.save(update_fields=["status"])
    StatusChange.objects.create(
        participant=participant, status=status, changed_at=timezone.now(), changed_by=by, reason=reason[:200]
    )
    audit_record(
        action=AuditEntry.Action.EDITED, actor=by, study=participant.study, participant=participant.pseudonym,
        details={"fields": ["status"], "status": status},
    )  # fmt: skip
    return participant


@transaction.atomic
def residence_record(
    *, participant: Participant, municipality_code: str, moved_in_on: datetime.date, by: User | None
) -> Residence:
    municipality = Municipality.objects.filter(code=municipality_code).first()
    if municipality is None:
        raise DomainError(
            f"'{municipality_code}' is not a Swedish municipality code (SCB).", field="municipality"
        )
    if participant.arrived_on is not None and moved_in_on < participant.arrived_on:
        raise DomainError("A residence in Sweden cannot start before arrival.", field="moved_in_on")
    residence, _ = Residence.objects.update_or_create(
        participant=participant,
        moved_in_on=moved_in_on,
        defaults={"municipality": municipality, "recorded_by": by},
    )
    return residence


def municipality_on(participant: Participant, day: datetime.date) -> Municipality | None:
    residence = participant.residences.filter(moved_in_on__lte=day).order_by("-moved_in_on").first()
    return residence.municipality if residence else None


@transaction.atomic
def intervention_record(
    *,
    participant: Participant,
    type_code: str,
    started_on: datetime.date,
    ended_on: datetime.date | None = None,
    source: str = Intervention.Source.STAFF,
) -> Intervention:
    kind = _lookup(InterventionType, study_id=participant.study_id, code=type_code, field="type")
    if ended_on is not None and ended_on < started_on:
        raise DomainError("An intervention cannot end before it starts.", field="ended_on")
    return Intervention.objects.create(
        participant=participant, type=kind, started_on=started_on, ended_on=ended_on, source=source
    )


def withdrawal_reason_encrypt(participant: Participant, reason: str) -> str:
    reason = reason.strip()[:500]
    return value_encrypt(contacts.WITHDRAWAL_REASON, participant.pseudonym, reason) if reason else ""


def withdrawal_reason(withdrawal: Withdrawal) -> str:
    """The reason given, decrypted (for the study team's follow-up)."""
    return value_decrypt(
        contacts.WITHDRAWAL_REASON, withdrawal.participant.pseudonym, withdrawal.reason_encrypted
    )


@transaction.atomic
def participant_withdraw(
    *,
    participant: Participant,
    scope: str,
    by: User | None = None,
    by_participant: bool = False,
    reason: str = "",
) -> Withdrawal:
    """Stops all future contact at once; with scope "erase", also erases the participant's data."""
    if scope not in Withdrawal.Scope.values:
        raise DomainError(f"Unknown withdrawal scope '{scope}'.", field="scope")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    now = timezone.now()
    withdrawal = Withdrawal.objects.create(
        participant=participant, scope=scope, requested_at=now, by_participant=by_participant, recorded_by=by,
        reason_encrypted=withdrawal_reason_encrypt(participant, reason),
    )  # fmt: skip
    if participant.contact_stopped_at is None:
        participant.contact_stopped_at = now
    if participant.status != Participant.Status.WITHDRAWN:
        participant.status = Participant.Status.WITHDRAWN
        StatusChange.objects.create(
            participant=participant,
            status=participant.status,
            changed_at=now,
            changed_by=by,
            reason="withdrawal",
        )
    participant.save(update_fields=["contact_stopped_at", "status"])
    reminders_cancel_for_participant(participant=participant, reason="participant withdrew")
    audit_record(
        action=AuditEntry.Action.WITHDRAWN, actor=by,
        actor_participant=participant.pseudonym if by_participant else "", study=participant.study,
        participant=participant.pseudonym, details={"scope": scope},
    )  # fmt: skip
    if scope == Withdrawal.Scope.ERASE:
        # Erased before the rows are marked withdrawn (which deletes their drafts), so that the erasure counts
        # the drafts too. The schedule rows are locked first, in every writer's order: participant, schedule
        # rows, responses (schedules_advance takes the last two, and would deadlock with the other order).
        list(ParticipantWave.objects.select_for_update().filter(participant=participant).values_list("pk"))
        participant_erase(participant=participant, by=by, by_participant=by_participant)
    schedules_sync(participant=participant)
    return withdrawal


@transaction.atomic
def participant_erase(
    *, participant: Participant, by: User | None = None, by_participant: bool = False
) -> Participant:
    """Removes contact details and credentials for good; the pseudonymous record is kept, marked erased."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    participant.phone_numbers.all().delete()
    ContactProfile.objects.filter(participant=participant).delete()
    # The reason is free text that may name people.
    Withdrawal.objects.filter(participant=participant).update(reason_encrypted="")
    access.credentials_remove(participant=participant)
    responses = responses_delete_for(participant=participant, by=by, by_participant=by_participant)
    removed = {"contact": True, "credentials": True, "responses": responses}
    participant.erased_at = timezone.now()
    participant.contact_stopped_at = participant.contact_stopped_at or participant.erased_at
    participant.save(update_fields=["erased_at", "contact_stopped_at"])
    audit_record(
        action=AuditEntry.Action.ERASED,
        actor_participant=participant.pseudonym if by_participant else "",
         actor=by, study=participant.study, participant=participant.pseudonym,
        details=removed,
    )  # fmt: skip
    return participant
