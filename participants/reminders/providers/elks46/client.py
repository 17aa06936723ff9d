"""46elks, a Swedish SMS gateway, over its HTTP API: ``POST {ELKS46_BASE_URL}/sms``.

HTTP Basic auth with the API username and password; form fields ``from``, ``to``, ``message`` and
``whendelivered`` (the delivery report URL). The JSON answer carries ``id`` and ``status`` ("created").

46elks has no idempotency key. A request that times out after reaching 46elks may still be delivered,
and sending again sends a second SMS, so the caller guarantees at-most-once: the reminder state machine
records each attempt before sending and reads ``TransientProviderError.may_have_been_sent``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from participants.reminders.providers import (
    OutgoingMessage,
    SendResult,
    TransientProviderError,
    error_for_status,
    post_form,
    redact,
)
from participants.reminders.providers.elks46.webhook import callback_token


def delivery_report_url(status_callback_url: str, *, attempt: str, secret: str) -> str:
    """``status_callback_url`` with the attempt and its token added to the query string."""
    parts = urlsplit(status_callback_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("attempt", attempt), ("token", callback_token(attempt=attempt, secret=secret))]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Elks46Provider:
    name = "elks46"
    channel: Literal["sms", "email"] = "sms"

    def __init__(
        self, *, base_url: str, username: str, password: str, sender: str, webhook_secret: str, timeout: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.sender = sender
        self.webhook_secret = webhook_secret
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> Elks46Provider:
        return cls(
            base_url=settings.ELKS46_BASE_URL,
            username=settings.ELKS46_API_USERNAME,
            password=settings.ELKS46_API_PASSWORD,
            sender=settings.ELKS46_FROM,
            webhook_secret=settings.ELKS46_WEBHOOK_SECRET,
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        fields = {"from": self.sender, "to": message.to, "message": message.body}
        if message.status_callback_url:
            if not self.webhook_secret:
                raise ImproperlyConfigured("ELKS46_WEBHOOK_SECRET is needed for 46elks delivery reports")
            fields["whendelivered"] = delivery_report_url(
                message.status_callback_url, attempt=message.idempotency_key, secret=self.webhook_secret
            )
        response = post_form(
            provider="46elks",
            url=f"{self.base_url}/sms",
            fields=fields,
            auth=(self.username, self.password),
            timeout=self.timeout,
        )

        if not response.is_success:
            text = redact(response.text.strip(), message=message)
            raise error_for_status(response.status_code, f"46elks: HTTP {response.status_code}: {text}")
        try:
            answer = response.json()
            reference, status = answer["id"], answer.get("status", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TransientProviderError(
                "46elks: unreadable answer to a sent message", may_have_been_sent=True
            ) from None
        if not isinstance(reference, str) or not reference:
            raise TransientProviderError("46elks: answer without a message id", may_have_been_sent=True)
        return SendResult(provider=self.name, reference=reference, status=str(status))
