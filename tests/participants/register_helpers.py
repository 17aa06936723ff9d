"""Helpers shared by the participants register's tests: API bodies, CSV files and participant clients.

Import them as ``from register_helpers import ...`` (pytest puts this directory on sys.path). They do not
live in conftest.py: conftest modules of different directories share the module name "conftest", so
``from conftest import`` picks whichever was imported last. Fixtures stay in conftest.py.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlsplit

from rest_framework.test import APIClient

from participants.models import AuditEntry, ConsentText, Participant, Site
from participants.services.bulk import COLUMNS

API = "/api/v1"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PSEUDONYM_PATTERN = rf"[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}"
ACCESS_CODE_PATTERN = rf"[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}"


def enroll_body(consent_text: ConsentText, **overrides: Any) -> dict[str, Any]:
    """A valid JSON body for POST /sites/<id>/participants/, witnessed by fatima."""
    body: dict[str, Any] = {
        "preferred_language": "ar",
        "country_of_origin": "SY",
        "country_of_departure": "KE",
        "birth_year": 1990,
        "enrolled_on": "2026-01-15",
        "planned_departure_on": "2026-03-01",
        "name": "Test Person",
        "phone": "+46701234567",
        "consent": {
            "consent_text": consent_text.pk,
            "language": "ar",
            "method": "read_aloud",
            "witnessed_by": "fatima",
        },
    }
    body.update(overrides)
    return body


def enroll_url(site: Site) -> str:
    return f"{API}/sites/{site.pk}/participants/"


def participant_url(participant: Participant, tail: str = "") -> str:
    return f"{API}/participants/{participant.pseudonym}/{tail}"


def csv_row(**overrides: str) -> dict[str, str]:
    """One valid row of the bulk enrollment CSV (every column of participants.services.bulk.COLUMNS)."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        preferred_language="ar",
        country_of_origin="SY",
        country_of_departure="KE",
        birth_year="1990",
        enrolled_on="2026-01-15",
        name="Test Person",
        phone="+46701234567",
        consent_version="1",
        consent_language="ar",
        consent_method="read_aloud",
        witnessed_by="fatima",
    )
    row.update(overrides)
    return row


def csv_bytes(rows: list[dict[str, str]], columns: tuple[str, ...] | list[str] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def csv_upload(data: bytes, name: str = "cohort.csv") -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def link_token(link: str) -> str:
    """The one-time token of a personal link (it travels in the URL fragment: ``#token=...``)."""
    fragment = urlsplit(link).fragment
    assert fragment.startswith("token=")
    return fragment.removeprefix("token=")


def bearer_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def exchange_code(code: str, *, remote_addr: str = "127.0.0.1") -> Any:
    return APIClient().post(f"{API}/access/code/", {"code": code}, format="json", REMOTE_ADDR=remote_addr)


def audit_actions(**filters: Any) -> list[str]:
    return list(AuditEntry.objects.filter(**filters).order_by("pk").values_list("action", flat=True))
