"""Outside providers that carry reminders: SMS gateways and e-mail, behind one small interface.

Each provider lives in its own folder with its client, a fake server for tests and (for SMS) the parser
of its delivery reports. The reminder task picks a provider with ``sms_provider()`` / ``email_provider()``
and calls ``send``; it retries on ``TransientProviderError`` only and never on ``PermanentProviderError``.

Exception texts never carry the recipient or the message body: they end up in logs and task results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "DeliveryReport",
    "ForgedCallback",
    "MalformedCallback",
    "OutgoingMessage",
    "PermanentProviderError",
    "Provider",
    "ProviderError",
    "SendResult",
    "TransientProviderError",
    "email_provider",
    "error_for_status",
    "post_form",
    "redact",
    "sms_provider",
]


@dataclass(frozen=True)
class OutgoingMessage:
    # Recipient and body stay out of repr(): messages show up in task arguments and tracebacks.
    to: str = field(repr=False)  # E.164 phone number, or an e-mail address for e-mail
    body: str = field(repr=False)  # any script (Arabic, Tigrinya, ...); an SMS body up to ~1000 chars
    idempotency_key: str  # stable per reminder attempt, e.g. "reminder-123"
    status_callback_url: str = ""  # where the provider posts delivery reports ("" = none)
    subject: str = ""  # e-mail only


@dataclass(frozen=True)
class SendResult:
    provider: str
    reference: str  # the provider's id of the message (46elks id, Twilio sid, e-mail Message-ID)
    status: str  # the provider's own word for it: "created", "queued", "sent", ...


@dataclass(frozen=True)
class DeliveryReport:
    provider: str
    reference: str
    status: Literal["delivered", "failed", "sent"]
    detail: str = ""


class ProviderError(Exception):
    """The provider did not take the message. The text is safe to log: no recipient, no body."""


class TransientProviderError(ProviderError):
    """Retry later with backoff: timeouts, connection errors, 429 and 5xx.

    ``may_have_been_sent`` is true when the request may have reached the provider before it failed
    (a read timeout, a 5xx, an unreadable answer). Providers without idempotency keys may then deliver
    the message twice if the caller retries; the reminder state machine decides what to do.
    """

    def __init__(self, text: str, *, may_have_been_sent: bool = False) -> None:
        super().__init__(text)
        self.may_have_been_sent = may_have_been_sent


class PermanentProviderError(ProviderError):
    """Never retry: an invalid number, a refused recipient, failed authentication."""


class ForgedCallback(Exception):
    """A delivery report whose secret or signature is missing or wrong: answer 403, change nothing."""


class MalformedCallback(ValueError):
    """An authentic delivery report that we cannot read: missing id, unknown status."""


class Provider(Protocol):
    name: str
    channel: Literal["sms", "email"]

    def send(self, message: OutgoingMessage) -> SendResult: ...


# Anything that looks like a phone number (also written with dots or slashes), an e-mail address or a secret
# token (a personal link's, from a partly echoed body), in case a provider echoes one back.
_PHONE_LIKE = re.compile(r"\+?\d[\d ()./-]{5,}\d")
_EMAIL_LIKE = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{20,}")
_MAX_PROVIDER_TEXT = 200


def redact(text: str, *, message: OutgoingMessage) -> str:
    """The provider's error text without the recipient, the body, or anything shaped like either."""
    for secret in (message.to, message.body):
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _EMAIL_LIKE.sub("[redacted]", text)
    text = _PHONE_LIKE.sub("[redacted]", text)
    text = _TOKEN_LIKE.sub("[redacted]", text)
    return text[:_MAX_PROVIDER_TEXT]


def error_for_status(status_code: int, text: str) -> ProviderError:
    """429 and 5xx are worth another try later; any other refusal is final."""
    if status_code == 429 or status_code >= 500:
        return TransientProviderError(text, may_have_been_sent=status_code >= 500)
    return PermanentProviderError(text)


def _require(backend: str, names: tuple[str, ...]) -> None:
    missing = [name for name in names if not getattr(settings, name, "")]
    if missing:
        raise ImproperlyConfigured(f"SMS_BACKEND={backend!r} needs these settings: {', '.join(missing)}")


def sms_provider() -> Provider:
    """The SMS provider named by ``settings.SMS_BACKEND``: "elks46", "twilio" or "console"."""
    backend = settings.SMS_BACKEND
    if backend == "elks46":
        from participants.reminders.providers.elks46.client import Elks46Provider

        _require(
            backend, ("ELKS46_API_USERNAME", "ELKS46_API_PASSWORD", "ELKS46_FROM", "ELKS46_WEBHOOK_SECRET")
        )
        return Elks46Provider.from_settings()
    if backend == "twilio":
        from participants.reminders.providers.twilio.client import TwilioProvider

        _require(backend, ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"))
        return TwilioProvider.from_settings()
    if backend == "console":
        from participants.reminders.providers.console.client import ConsoleSmsProvider

        return ConsoleSmsProvider()
    raise ImproperlyConfigured(f"SMS_BACKEND={backend!r} is not one of 'elks46', 'twilio', 'console'")


def email_provider() -> Provider:
    """E-mail through Django's configured ``EMAIL_BACKEND`` (SMTP in production)."""
    from participants.reminders.providers.email.client import EmailProvider

    return EmailProvider.from_settings()


def post_form(
    *, provider: str, url: str, fields: dict[str, str], auth: tuple[str, str], timeout: float
) -> httpx.Response:
    """POST a form to an HTTP gateway; transport failures become TransientProviderError.

    A failure before the request left (no connection) cannot have sent anything; any later one may have.
    """
    try:
        with httpx.Client(timeout=timeout) as client:
            return client.post(url, data=fields, auth=auth)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TransientProviderError(f"{provider}: could not connect ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransientProviderError(
            f"{provider}: request failed ({type(exc).__name__})", may_have_been_sent=True
        ) from exc
