"""Threat 1 of DESIGN.md: a database dump or backup leaks. No name, phone number, e-mail address or access
secret may be readable from it, nor from the logs written while people were enrolled.

Distinctive markers go in through every path that takes contact details (enrollment by API and by CSV, a
new number, the participant changing her e-mail, a duplicate refused); then every table is read back raw,
the database is dumped with pg_dump, and every log record (SQL statements included) is searched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from register_helpers import (
    API,
    bearer_client,
    csv_bytes,
    csv_row,
    csv_upload,
    enroll_body,
    enroll_url,
    exchange_code,
    link_token,
)
from rest_framework.test import APIClient

from participants.models import ConsentText, Site
from surveys.models import Study

NAME = "Zzyzx Quillfeather"
PHONE_TYPED = "+46 70 987 65 43"
PHONE_E164 = "+46709876543"
EMAIL = "Zzyzx.Marker@Example.ORG"

CSV_NAME = "Yzzyx Featherquill"
CSV_PHONE_TYPED = "+46 (0)70-876 54 32"
CSV_PHONE_E164 = "+46708765432"
CSV_EMAIL = "yzzyx.marker@example.org"

NEW_PHONE_TYPED = "+46-73-987 65 43"
NEW_PHONE_E164 = "+46739876543"
NEW_EMAIL = "zzyzx.moved@example.org"

CONTACT_MARKERS = [
    "Zzyzx", "Quillfeather", "Yzzyx", "Featherquill",
    PHONE_E164, "46709876543", "0709876543", "709876543", "70 987 65 43",
    CSV_PHONE_E164, "46708765432", "0708765432", "708765432", "70-876 54 32",
    NEW_PHONE_E164, "46739876543", "0739876543", "739876543",
    "zzyzx.marker@example.org", "zzyzx.marker", CSV_EMAIL, "yzzyx.marker", NEW_EMAIL, "zzyzx.moved",
]  # fmt: skip


@dataclass(frozen=True)
class Enrolled:
    markers: list[str]  # contact markers and every secret handed out, all to be searched case-insensitively
    pseudonyms: list[str]
    log_records: list[logging.LogRecord]
    sql: list[str]


def _secret_forms(code: str) -> list[str]:
    return [code, code.replace("-", "")]


def _enroll_with_markers(
    fatima: APIClient, site_a: Site, consent_text: ConsentText, caplog: pytest.LogCaptureFixture
) -> Enrolled:
    secrets: list[str] = []
    with CaptureQueriesContext(connection) as queries:  # also makes Django log every statement at DEBUG
        # through the API, the participant's own phone, and a new number
        body = enroll_body(consent_text, name=NAME, phone=PHONE_TYPED, email=EMAIL, preferred_channel="email")
        enrolled = fatima.post(enroll_url(site_a), body, format="json").json()
        credentials = enrolled["credentials"]
        secrets += _secret_forms(credentials["access_code"]) + [link_token(credentials["link"])]
        exchanged = exchange_code(credentials["access_code"]).json()
        secrets.append(exchanged["token"])
        participant = bearer_client(exchanged["token"])
        assert participant.patch(f"{API}/me/", {"email": NEW_EMAIL}, format="json").status_code == 200
        pseudonym = enrolled["participant"]["pseudonym"]
        contact_url = f"{API}/participants/{pseudonym}/contact/"
        assert fatima.patch(contact_url, {"phone": NEW_PHONE_TYPED}, format="json").status_code == 204
        assert fatima.get(contact_url).status_code == 200
        # a refused duplicate: its error must not echo what was typed
        assert fatima.post(enroll_url(site_a), body, format="json").status_code == 409

        # through a CSV import
        data = csv_bytes([csv_row(name=CSV_NAME, phone=CSV_PHONE_TYPED, email=CSV_EMAIL)])
        imported = fatima.post(
            f"{API}/sites/{site_a.pk}/participants/import/", {"file": csv_upload(data)}, format="multipart"
        ).json()["participants"]
        secrets += _secret_forms(imported[0]["access_code"]) + [link_token(imported[0]["link"])]

    return Enrolled(
        markers=CONTACT_MARKERS + secrets,
        pseudonyms=[pseudonym, imported[0]["pseudonym"]],
        log_records=list(caplog.records),
        sql=[query["sql"] for query in queries.captured_queries],
    )


@pytest.fixture
def enrolled(
    fatima: APIClient, site_a: Site, consent_text: ConsentText, caplog: pytest.LogCaptureFixture
) -> Enrolled:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)  # e.g. "django" sits at INFO: open every logger up
    return _enroll_with_markers(fatima, site_a, consent_text, caplog)


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _every_table_as_text() -> dict[str, str]:
    dump: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the database's own catalogue
            dump[table] = "\n".join(_as_text(value) for row in cursor.fetchall() for value in row)
    return dump


def _found(markers: list[str], text: str) -> list[str]:
    folded = text.casefold()
    return [marker for marker in markers if marker.casefold() in folded]


def test_no_table_holds_a_name_number_address_or_secret_in_readable_form(enrolled: Enrolled) -> None:
    # when
    dump = _every_table_as_text()

    # then
    assert {
        table: _found(enrolled.markers, text)
        for table, text in dump.items()
        if _found(enrolled.markers, text)
    } == {}
    # the dump is not vacuous: the participants and their encrypted contact details are in it
    assert _found(enrolled.pseudonyms, dump["participants_participant"]) == enrolled.pseudonyms
    assert dump["participants_phonenumber"].count("v1.test2.") == 3
    assert dump["participants_contactprofile"].count("v1.test2.") == 4  # two names, two e-mail addresses


def test_no_log_record_holds_a_name_number_address_or_secret(enrolled: Enrolled) -> None:
    # given
    logged = [f"{record.name} {record.levelname} {record.getMessage()}" for record in enrolled.log_records]

    # then
    assert [line for line in logged if _found(enrolled.markers, line)] == []
    assert any(record.name == "django.db.backends" for record in enrolled.log_records)  # SQL was logged too
    assert any(line.startswith("django.request WARNING Conflict: ") for line in logged)


def test_no_sql_statement_sent_to_the_database_holds_a_name_number_address_or_secret(
    enrolled: Enrolled,
) -> None:
    assert [statement for statement in enrolled.sql if _found(enrolled.markers, statement)] == []
    assert len(enrolled.sql) > 50


def _pg_dump() -> str | None:
    candidates = [Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")) / "pg_dump"]
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path))
    return next((str(path) for path in candidates if path.is_file()), None)


def _committed_world() -> tuple[APIClient, Site, ConsentText]:
    """Fatima, her site and a consent text, built here rather than by the shared fixtures.

    A transactional test may start on an emptied database (another transactional test flushed it, with or
    without re-creating permissions), so it uses nothing that only the migrations put there.
    """
    fatima = User.objects.create_user("fatima", password="fatima-Passw0rd!-long")
    study = Study.objects.create(
        slug="panel", source_language="en", languages=["en", "sv", "ar"], title_en="Panel"
    )
    site = Site.objects.create(
        study=study, code="site-a", name="Nairobi", country="KE", time_zone="Africa/Nairobi"
    )
    site.assignments.create(user=fatima)
    consent_text = ConsentText(study=study, version=1)
    for language in ("en", "sv", "ar"):
        setattr(consent_text, f"title_{language}", "Consent")
        setattr(consent_text, f"body_{language}", "You agree to answer questions about your life.")
    consent_text.save()
    client = APIClient()
    client.force_authenticate(fatima)
    return client, site, consent_text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_pg_dump_of_the_database_holds_no_name_number_address_or_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: the enrollments are committed (a dump runs in its own session and sees only committed rows)
    pg_dump = _pg_dump()
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    enrolled = _enroll_with_markers(*_committed_world(), caplog)
    database = connection.settings_dict
    environment = {**os.environ, "PGPASSWORD": database.get("PASSWORD") or ""}

    # when
    completed = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [pg_dump, "--no-owner", "-h", database["HOST"], "-p", str(database["PORT"]), "-U", database["USER"],
         database["NAME"]],
        capture_output=True, check=True, env=environment, timeout=120,
    )  # fmt: skip
    dump = completed.stdout.decode("utf-8", errors="replace")

    # then
    assert database["NAME"].startswith("test_")
    assert _found(enrolled.markers, dump) == []
    assert _found(enrolled.pseudonyms, dump) == enrolled.pseudonyms
    assert "COPY public.participants_phonenumber" in dump
