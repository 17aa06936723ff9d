"""No answer is readable at rest: not in any table, not in a pg_dump of the database, not in the logs, not
in what is sent to Celery. Distinctive markers are answered, then searched for everywhere."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.app.task import Task
from django.core import mail
from django.db import connection
from rest_framework.test import APIClient

from participants.models import Participant, Response, Submission
from participants.responses import services as response_services
from participants.tasks import reminders_tick, schedules_advance
from surveys.models import Wave
from tests.participants.responses.conftest import (
    VALID_ABOUT,
    answer_fully,
    answers_url,
    page_body,
    post_complete,
    post_page,
)

TEXT_MARKER = "Quokka7731Marzipan"
ARABIC_MARKER = "حمامة زرقاء في مالمو"
DECIMAL_MARKER = "987654.321"
DRAFT_DECIMAL_MARKER = "876543.219"
MARKERS = (TEXT_MARKER, ARABIC_MARKER, DECIMAL_MARKER, DRAFT_DECIMAL_MARKER)


def _forms(marker: str) -> list[str]:
    """The ways a marker could show up: as is, JSON-escaped, and as the hex of its UTF-8 bytes (bytea)."""
    return [marker, json.dumps(marker)[1:-1], marker.encode().hex()]


def _found_in(text: str) -> list[str]:
    return [form for marker in MARKERS for form in _forms(marker) if form in text]


def _as_texts(value: Any) -> list[str]:
    if isinstance(value, memoryview | bytes | bytearray):
        raw = bytes(value)
        return [raw.decode("latin-1"), raw.decode("utf-8", errors="replace"), raw.hex()]
    if isinstance(value, dict | list):
        return [json.dumps(value, ensure_ascii=False), str(value)]
    return [str(value)]


def _raw_tables() -> dict[str, str]:
    """Every table, every row, every value, as text."""
    dumped: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the catalogue
            dumped[table] = "\n".join(
                text for row in cursor.fetchall() for value in row for text in _as_texts(value)
            )
    return dumped


def _pg_dump() -> str | None:
    binary = next(
        (
            path
            for path in ("/usr/lib/postgresql/15/bin/pg_dump", shutil.which("pg_dump"))
            if path and os.path.exists(path)
        ),
        None,
    )
    if binary is None:
        return None
    database = connection.settings_dict
    result = subprocess.run(  # noqa: S603 - fixed arguments from the test settings
        [
            binary, "--no-password", "--host", database["HOST"] or "127.0.0.1", "--port", str(database["PORT"] or 5432),
            "--username", database["USER"], "--dbname", database["NAME"],
        ],
        capture_output=True, check=True, env={**os.environ, "PGPASSWORD": database["PASSWORD"] or ""},
    )  # fmt: skip
    return result.stdout.decode("utf-8", errors="replace")


@pytest.fixture
def every_log_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, SQL statements (with their parameters) included."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    forced = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = forced


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    """Every Celery message that would leave the process: name, args, kwargs (nothing is sent)."""
    sent: list[tuple[str, Any, Any]] = []

    def apply_async(task: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        sent.append((task.name, args, kwargs))

    def send_task(app: Celery, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        sent.append((name, args, kwargs))

    monkeypatch.setattr(Task, "apply_async", apply_async)
    monkeypatch.setattr(Celery, "send_task", send_task)
    return sent


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_answer_is_readable_in_the_tables_a_database_dump_the_logs_or_the_task_queue(
    rich_wave: Wave, wave: Wave, study_key: Any, amira_participant: Participant, bashir_participant: Participant,
    amira: APIClient, bashir: APIClient, every_log_at_debug: pytest.LogCaptureFixture,
    sent_tasks: list[tuple[str, Any, Any]],
) -> None:  # fmt: skip
    # given a refused page carrying a marker
    refused = post_page(amira, rich_wave, "about", {**VALID_ABOUT, "HOPES": TEXT_MARKER * 3})
    # and amira completes both waves, with markers in free text and in a decimal
    assert (
        post_page(
            amira, rich_wave, "about", {**VALID_ABOUT, "HOPES": TEXT_MARKER, "INCOME": DECIMAL_MARKER}
        ).status_code
        == 200
    )
    assert (
        post_page(
            amira, rich_wave, "faith", {"PRAYERS": 3, "STORY": f"{ARABIC_MARKER} {TEXT_MARKER}"}
        ).status_code
        == 200
    )
    assert post_complete(amira, rich_wave).status_code == 200
    assert [response.status_code for response in answer_fully(amira, wave)] == [200, 200, 200]
    # and bashir leaves the baseline wave as a draft, with markers too
    assert (
        post_page(
            bashir, rich_wave, "about", {**VALID_ABOUT, "HOPES": TEXT_MARKER, "INCOME": DRAFT_DECIMAL_MARKER}
        ).status_code
        == 200
    )
    assert post_page(bashir, rich_wave, "faith", {"PRAYERS": 1, "STORY": ARABIC_MARKER}).status_code == 200
    # and the periodic tasks run
    reminders_tick()
    schedules_advance()
    assert refused.status_code == 400
    assert list(Response.objects.order_by("participant__pk", "wave__pk").values_list("status", flat=True)) == [
        "completed", "completed", "in_progress",
    ]  # fmt: skip
    assert (
        response_services.draft_answers(
            Response.objects.select_related("participant").get(participant=bashir_participant)
        )["INCOME"]
        == DRAFT_DECIMAL_MARKER
    )  # the draft is there, only encrypted
    # when everything at rest is dumped
    tables = _raw_tables()
    dump = _pg_dump()
    # then no marker is anywhere
    assert {"participants_response", "participants_submission"} <= set(tables)
    assert {table: _found_in(text) for table, text in tables.items() if _found_in(text)} == {}
    if dump is not None:  # pg_dump is optional on a developer's machine
        assert "participants_response" in dump
        assert _found_in(dump) == []
    records = every_log_at_debug.records
    assert any(record.name == "django.db.backends" for record in records)  # the capture did see the SQL
    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in records
    )
    assert _found_in(logged) == []
    assert _found_in(repr(sent_tasks)) == []
    # tasks carry reminder ids only: one each, or a chunk of them
    task_args = [arg for _, args, _ in sent_tasks for arg in args or ()]
    assert task_args
    assert all(isinstance(arg, int) or all(isinstance(item, int) for item in arg) for arg in task_args)
    assert _found_in("\n".join(f"{message.subject} {message.body}" for message in mail.outbox)) == []


# --- the idempotency digests ------------------------------------------------------------------------------


def _candidate_payloads(
    participant: str, wave_key: str, section: str, language: str, answers: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every request a page with these answers could have been, as the server digests requests."""
    base = {
        "kind": "page",
        "participant": participant,
        "wave": wave_key,
        "section": section,
        "language": language,
        "version": None,  # what the tests' phones send; the web client sends the version it showed
    }
    return [{**base, "answers": answers, "complete": complete} for complete in (False, True)]


def test_the_idempotency_digests_do_not_let_a_dump_reveal_sealed_answers(
    wave: Wave, study_key: Any, amira_participant: Participant, amira: APIClient
) -> None:
    # given someone holding the database and the server's keys, who digests every possible page
    possible = {
        "family": [{"Q1": q1, "Q49": q49} for q1 in ("1", "2", {"special": "-1"}) for q49 in range(1, 11)],
        "work": [{"EMPLOYED": "no"}] + [{"EMPLOYED": "yes", "HOURS": hours} for hours in range(1, 81)],
    }
    digests = {
        response_services._digest(payload): (section, answers)
        for section, candidates in possible.items()
        for answers in candidates
        for payload in _candidate_payloads(
            amira_participant.pseudonym, wave.key, section, amira_participant.preferred_language, answers
        )
    }
    # (while the response is unfinished, that finds its pages: the guesses are the server's own digests)
    post_page(amira, wave, "family", {"Q1": "2", "Q49": 7})
    assert digests.get(Submission.objects.get().body_digest) == ("family", {"Q1": "2", "Q49": 7})
    # when amira sends her last page with "complete", which seals the response
    last = {**page_body("work", {"EMPLOYED": "yes", "HOURS": 38}), "complete": True}
    assert amira.post(answers_url(wave), last, format="json").status_code == 200
    # then no stored digest is the digest of a page any more
    submissions = list(Submission.objects.filter(response__participant=amira_participant))
    assert len(submissions) == 2
    assert [digests.get(submission.body_digest) for submission in submissions] == [None, None]
    assert [digests.get(submission.envelope_digest) for submission in submissions] == [None, None]
