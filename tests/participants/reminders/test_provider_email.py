"""E-mail: Django's SMTP backend against a real SMTP server on loopback (aiosmtpd), and the failures around it."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core import mail

from participants.reminders.providers import (
    OutgoingMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
    email_provider,
)
from participants.reminders.providers.email.client import message_id_for

ADDRESS = "amira@example.org"
SUBJECT = "تذكير: استبيان الموجة الثانية"
BODY = "مرحبا أمل،\nاستبيان الموجة الثانية جاهز: https://panel.example.org/p/\nሰላም! Tack för att du deltar.\n"


def _message(**overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "to": ADDRESS,
        "body": BODY,
        "subject": SUBJECT,
        "idempotency_key": "reminder-7",
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses the recipients it is told to."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse_with = ""
        self.hang_up_after_data = False

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_with:
            return f"{self.refuse_with} <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        if self.hang_up_after_data:  # the message arrived, but its "250" never reaches the client
            assert server.transport is not None
            server.transport.close()
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
            for envelope in self.envelopes
        ]


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "Migrant panel <panel@panel.example.org>"
    settings.PROVIDER_TIMEOUT_SECONDS = 5.0
    try:
        yield mailbox
    finally:
        controller.stop()


def test_the_message_arrives_with_subject_utf8_body_and_message_id(smtp_server: Mailbox) -> None:
    # when
    result = email_provider().send(_message())

    # then
    assert result == SendResult(provider="email", reference="<reminder-7@panel.example.org>", status="sent")
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "panel@panel.example.org"
    assert envelope.rcpt_tos == [ADDRESS]
    [received] = smtp_server.messages()
    # Django folds the encoded subject onto a continuation line; the parser keeps that line's leading space.
    assert received["Subject"].lstrip() == SUBJECT
    assert received["Message-ID"] == "<reminder-7@panel.example.org>"
    assert received["To"] == ADDRESS
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content() == BODY.replace("\n", "\r\n")  # SMTP carries CRLF line ends


def test_a_closed_smtp_port_is_transient_and_was_not_sent(smtp_server: Mailbox, settings: Any) -> None:
    settings.EMAIL_PORT = _free_port()

    with pytest.raises(TransientProviderError) as raised:
        email_provider().send(_message())

    assert str(raised.value) == "email: SMTP connection refused"
    assert raised.value.may_have_been_sent is False


def test_an_smtp_server_that_never_greets_times_out_as_transient(settings: Any) -> None:
    # given a listening socket nobody answers on
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = silent.getsockname()[1]
        settings.PROVIDER_TIMEOUT_SECONDS = 0.3

        # when
        with pytest.raises(TransientProviderError) as raised:
            email_provider().send(_message())

    # then: smtplib turns the read timeout into a disconnect, before anything was handed over
    assert str(raised.value) == "email: SMTP server disconnected (Connection unexpectedly closed: timed out)"
    assert raised.value.may_have_been_sent is False


def test_a_connection_lost_after_the_data_is_transient_and_may_have_been_sent(smtp_server: Mailbox) -> None:
    smtp_server.hang_up_after_data = True

    with pytest.raises(TransientProviderError) as raised:
        email_provider().send(_message())

    assert str(raised.value) == "email: SMTP server disconnected (Connection unexpectedly closed)"
    assert raised.value.may_have_been_sent is True
    assert len(smtp_server.envelopes) == 1


def test_a_refused_recipient_is_permanent_and_the_error_does_not_name_it(smtp_server: Mailbox) -> None:
    smtp_server.refuse_with = "550 5.1.1"

    with pytest.raises(PermanentProviderError) as raised:
        email_provider().send(_message())

    assert str(raised.value) == "email: recipient refused (SMTP 550)"
    assert ADDRESS not in repr(raised.value)
    assert smtp_server.envelopes == []


def test_a_greylisted_recipient_is_transient(smtp_server: Mailbox) -> None:
    smtp_server.refuse_with = "450 4.2.0"

    with pytest.raises(TransientProviderError) as raised:
        email_provider().send(_message())

    assert str(raised.value) == "email: recipient refused (SMTP 450)"


def test_the_configured_backend_is_used_outside_smtp_too(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "panel@panel.example.org"

    result = email_provider().send(_message())

    [sent] = mail.outbox
    assert (sent.subject, sent.body, sent.to) == (SUBJECT, BODY, [ADDRESS])
    assert sent.extra_headers == {"Message-ID": "<reminder-7@panel.example.org>"}
    assert result.reference == "<reminder-7@panel.example.org>"


@pytest.mark.parametrize(
    ("key", "message_id"),
    [
        ("reminder-123", "<reminder-123@panel.example.org>"),
        ("reminder.123.attempt-2", "<reminder.123.attempt-2@panel.example.org>"),
        ("reminder 123", "<4481d609bf4fcfdf6725e7d50379d3a2@panel.example.org>"),
    ],
)
def test_the_message_id_is_the_idempotency_key_or_its_digest(key: str, message_id: str) -> None:
    assert message_id_for(key, domain="panel.example.org") == message_id
