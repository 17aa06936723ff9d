"""Choosing a provider from settings, and the shared interface: errors, redaction, what repr() shows."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from participants.reminders.providers import (
    OutgoingMessage,
    PermanentProviderError,
    TransientProviderError,
    email_provider,
    error_for_status,
    redact,
    sms_provider,
)
from participants.reminders.providers.console.client import ConsoleSmsProvider
from participants.reminders.providers.elks46.client import Elks46Provider
from participants.reminders.providers.email.client import EmailProvider
from participants.reminders.providers.twilio.client import TwilioProvider


@pytest.fixture
def elks46_settings(settings: Any) -> Any:
    settings.SMS_BACKEND = "elks46"
    settings.ELKS46_BASE_URL = "http://127.0.0.1:9/a1/"
    settings.ELKS46_API_USERNAME = "u0123"
    settings.ELKS46_API_PASSWORD = "elks-password"
    settings.ELKS46_FROM = "Panel"
    settings.ELKS46_WEBHOOK_SECRET = "webhook-secret"
    settings.PROVIDER_TIMEOUT_SECONDS = 4.5
    return settings


@pytest.fixture
def twilio_settings(settings: Any) -> Any:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_BASE_URL = "http://127.0.0.1:9"
    settings.TWILIO_ACCOUNT_SID = "AC0123"
    settings.TWILIO_AUTH_TOKEN = "auth-token"
    settings.TWILIO_FROM = "+46766860000"
    settings.PROVIDER_TIMEOUT_SECONDS = 4.5
    return settings


def test_the_test_settings_choose_the_console() -> None:
    provider = sms_provider()

    assert isinstance(provider, ConsoleSmsProvider)
    assert (provider.name, provider.channel) == ("console", "sms")


def test_elks46_is_built_from_its_settings(elks46_settings: Any) -> None:
    provider = sms_provider()

    assert isinstance(provider, Elks46Provider)
    assert (provider.name, provider.channel) == ("elks46", "sms")
    assert (provider.base_url, provider.username, provider.password, provider.sender) == (
        "http://127.0.0.1:9/a1",
        "u0123",
        "elks-password",
        "Panel",
    )
    assert (provider.webhook_secret, provider.timeout) == ("webhook-secret", 4.5)


def test_twilio_is_built_from_its_settings(twilio_settings: Any) -> None:
    provider = sms_provider()

    assert isinstance(provider, TwilioProvider)
    assert (provider.name, provider.channel) == ("twilio", "sms")
    assert provider.messages_url == "http://127.0.0.1:9/2010-04-01/Accounts/AC0123/Messages.json"
    assert (provider.auth_token, provider.sender, provider.timeout) == ("auth-token", "+46766860000", 4.5)


@pytest.mark.parametrize(
    ("missing", "error"),
    [
        (["ELKS46_API_USERNAME"], "SMS_BACKEND='elks46' needs these settings: ELKS46_API_USERNAME"),
        (["ELKS46_API_PASSWORD"], "SMS_BACKEND='elks46' needs these settings: ELKS46_API_PASSWORD"),
        (
            ["ELKS46_FROM", "ELKS46_WEBHOOK_SECRET"],
            "SMS_BACKEND='elks46' needs these settings: ELKS46_FROM, ELKS46_WEBHOOK_SECRET",
        ),
    ],
)
def test_elks46_without_credentials_is_improperly_configured(
    elks46_settings: Any, missing: list[str], error: str
) -> None:
    for name in missing:
        setattr(elks46_settings, name, "")

    with pytest.raises(ImproperlyConfigured) as raised:
        sms_provider()

    assert str(raised.value) == error


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"])
def test_twilio_without_credentials_is_improperly_configured(twilio_settings: Any, missing: str) -> None:
    setattr(twilio_settings, missing, "")

    with pytest.raises(ImproperlyConfigured) as raised:
        sms_provider()

    assert str(raised.value) == f"SMS_BACKEND='twilio' needs these settings: {missing}"


@pytest.mark.parametrize("backend", ["nexmo", "", "ELKS46", "46elks"])
def test_an_unknown_sms_backend_is_improperly_configured(settings: Any, backend: str) -> None:
    settings.SMS_BACKEND = backend

    with pytest.raises(ImproperlyConfigured) as raised:
        sms_provider()

    assert str(raised.value) == f"SMS_BACKEND={backend!r} is not one of 'elks46', 'twilio', 'console'"


def test_email_goes_through_the_django_backend_with_the_sender_domain_in_message_ids(settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Migrant panel <panel@panel.example.org>"
    settings.PROVIDER_TIMEOUT_SECONDS = 4.5

    provider = email_provider()

    assert isinstance(provider, EmailProvider)
    assert (provider.name, provider.channel) == ("email", "email")
    assert (provider.from_email, provider.message_id_domain, provider.timeout) == (
        "Migrant panel <panel@panel.example.org>",
        "panel.example.org",
        4.5,
    )


def test_an_outgoing_message_repr_shows_neither_recipient_nor_body() -> None:
    message = OutgoingMessage(to="+46701234567", body="مرحبا أمل", idempotency_key="reminder-1")

    assert (
        repr(message) == "OutgoingMessage(idempotency_key='reminder-1', status_callback_url='', subject='')"
    )


@pytest.mark.parametrize(
    ("status_code", "error", "may_have_been_sent"),
    [
        (400, PermanentProviderError, None),
        (401, PermanentProviderError, None),
        (403, PermanentProviderError, None),
        (404, PermanentProviderError, None),
        (429, TransientProviderError, False),
        (500, TransientProviderError, True),
        (502, TransientProviderError, True),
        (503, TransientProviderError, True),
    ],
)
def test_429_and_5xx_are_transient_other_refusals_permanent(
    status_code: int, error: type[Exception], may_have_been_sent: bool | None
) -> None:
    result = error_for_status(status_code, "refused")

    assert type(result) is error
    assert getattr(result, "may_have_been_sent", None) == may_have_been_sent


def test_redact_removes_recipient_body_and_anything_shaped_like_them() -> None:
    message = OutgoingMessage(to="+46701234567", body="Din kod är 1234", idempotency_key="reminder-1")
    provider_text = "Refused +46701234567 (also 070-123 45 67, amira@example.org): 'Din kod är 1234'"

    assert (
        redact(provider_text, message=message)
        == "Refused [redacted] (also [redacted], [redacted]): '[redacted]'"
    )


def test_redact_removes_numbers_written_with_dots_and_a_partly_echoed_personal_link() -> None:
    link = "https://panel.example.org/p/#token=gJ8vkhTtyO6LqisU1-bXcc6TboE75Hld26uRLFF3sd0&wave=arrival"
    message = OutgoingMessage(to="+46701111111", body=f"Svara här: {link}", idempotency_key="reminder-1")
    provider_text = f"Rejected 070.111.11.11 / 070/111 11 11: body too long near '{link[:60]}'"

    redacted = redact(provider_text, message=message)

    assert "111" not in redacted
    assert "gJ8vkhTtyO6LqisU1" not in redacted
    assert redacted.startswith("Rejected [redacted]")
