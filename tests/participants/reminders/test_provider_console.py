"""The console SMS provider for local runs: a masked log line, never the whole number or body."""

from __future__ import annotations

import logging
import re

import pytest

from participants.reminders.providers import OutgoingMessage, sms_provider

NUMBER = "+46701234567"
BODY = "Hej Amira! Dags för enkäten om livet i Sverige: https://panel.example.org/p/"


def test_console_logs_a_masked_number_and_the_first_20_characters(caplog: pytest.LogCaptureFixture) -> None:
    # given
    message = OutgoingMessage(to=NUMBER, body=BODY, idempotency_key="reminder-1")

    # when
    with caplog.at_level(logging.INFO, logger="participants.reminders.console"):
        result = sms_provider().send(message)

    # then
    [record] = caplog.records
    assert (record.name, record.levelno) == ("participants.reminders.console", logging.INFO)
    assert record.getMessage() == "SMS to +46******67: Hej Amira! Dags för …"
    assert NUMBER not in caplog.text
    assert BODY not in caplog.text
    assert (result.provider, result.status) == ("console", "sent")
    assert re.fullmatch(
        r"console-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", result.reference
    )


def test_console_shows_a_short_arabic_body_whole_without_an_ellipsis(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = OutgoingMessage(to="+963912345678", body="مرحبا أمل", idempotency_key="reminder-2")

    with caplog.at_level(logging.INFO, logger="participants.reminders.console"):
        sms_provider().send(message)

    assert [record.getMessage() for record in caplog.records] == ["SMS to +96******78: مرحبا أمل"]


def test_each_console_send_gets_its_own_reference() -> None:
    message = OutgoingMessage(to=NUMBER, body=BODY, idempotency_key="reminder-1")
    provider = sms_provider()

    assert provider.send(message).reference != provider.send(message).reference
