"""Enrolling a whole cohort from a CSV file: every row checked, all or nothing, errors by row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from backend.errors import DomainError
from participants.audit import audit_record
from participants.models import AuditEntry, ConsentText, Site
from participants.services import contacts, register

MAX_ROWS = 5000
COLUMNS = (
    "preferred_language", "country_of_origin", "country_of_departure", "birth_year", "gender", "cohort",
    "enrolled_on", "planned_departure_on", "name", "phone", "email", "preferred_channel", "whatsapp_opt_in",
    "consent_version", "consent_language", "consent_method", "witnessed_by",
)  # fmt: skip
REQUIRED = ("preferred_language", "country_of_origin", "country_of_departure", "birth_year", "enrolled_on",
            "consent_version", "consent_language", "consent_method")  # fmt: skip


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    field: str
    message: str


@dataclass
class BulkOutcome:
    enrolled: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _row_payload(row: dict[str, str], consent_texts: dict[str, ConsentText]) -> dict[str, Any]:
    payload: dict[str, Any] = {key: (row.get(key) or "").strip() for key in COLUMNS}
    for optional in ("planned_departure_on", "preferred_channel", "whatsapp_opt_in", "witnessed_by"):
        if not payload[optional]:
            payload.pop(optional)
    text = consent_texts.get(payload.pop("consent_version"))
    payload["consent"] = {
        "consent_text": text.pk if text else None,
        "language": payload.pop("consent_language"),
        "method": payload.pop("consent_method"),
        "witnessed_by": payload.pop("witnessed_by", None),
    }
    return payload


def _flatten(errors: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(errors, dict):
        return [item for key, value in errors.items() for item in _flatten(value, f"{prefix}{key}.")]
    if isinstance(errors, list) and errors and not isinstance(errors[0], (dict, list)):
        return [(prefix.rstrip("."), str(errors[0]))]
    if isinstance(errors, list):
        return [item for value in errors for item in _flatten(value, prefix)]
    return [(prefix.rstrip("."), str(errors))]


def enroll_from_csv(*, site: Site, by: User, data: bytes) -> BulkOutcome:
    from participants.serializers import EnrollInput, enroll_kwargs

    outcome = BulkOutcome()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        outcome.errors.append(
            RowError(0, "file", "The file is not UTF-8 text; export the sheet as CSV UTF-8.")
        )
        return outcome
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [column for column in REQUIRED if column not in (reader.fieldnames or [])]
        rows = [] if missing else list(reader)
    except csv.Error as error:
        outcome.errors.append(RowError(reader.line_num, "file", f"Not a readable CSV file: {error}."))
        return outcome
    if missing:
        outcome.errors.append(RowError(1, ",".join(missing), "Required columns are missing from the header."))
        return outcome
    consent_texts = {str(text.version): text for text in ConsentText.objects.filter(study=site.study)}
    if not rows or len(rows) > MAX_ROWS:
        outcome.errors.append(RowError(1, "file", f"The file must hold 1 to {MAX_ROWS} participants."))
        return outcome
    seen_phones: dict[str, int] = {}
    with transaction.atomic():
        for number, row in enumerate(rows, start=2):
            payload = _row_payload(row, consent_texts)
            serializer = EnrollInput(data=payload)
            if not serializer.is_valid():
                outcome.errors.extend(
                    RowError(number, name, message) for name, message in _flatten(serializer.errors)
                )
                continue
            kwargs = enroll_kwargs(dict(serializer.validated_data))
            try:
                if kwargs.get("phone"):
                    e164 = contacts.normalize_phone(kwargs["phone"], default_region=site.country)
                    if e164 in seen_phones:
                        raise DomainError(
                            f"The same phone number is on row {seen_phones[e164]}.", field="phone"
                        )
                    seen_phones[e164] = number
                with transaction.atomic():
                    result = register.participant_enroll(site=site, by=by, **kwargs)
            except DomainError as error:
                outcome.errors.append(RowError(number, error.field or "row", error.message))
                continue
            credentials = result.credentials
            outcome.enrolled.append(
                {"row": number, "pseudonym": result.participant.pseudonym,
                 "access_code": credentials.access_code if credentials else "",
                 "link": credentials.link if credentials else ""}
            )  # fmt: skip
        if outcome.errors:
            outcome.enrolled.clear()
            transaction.set_rollback(True)
        else:
            audit_record(
                action=AuditEntry.Action.BULK_ENROLLED, actor=by, study=site.study,
                details={"site": site.code, "count": len(outcome.enrolled)},
            )  # fmt: skip
    return outcome
