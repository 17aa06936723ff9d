"""Twilio Programmable Messaging over its HTTP API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

HTTP Basic auth (Account SID, auth token); form fields ``To``, ``From``, ``Body`` and ``StatusCallback``.
The JSON answer carries ``sid`` and ``status``; errors carry ``code``, ``message`` and ``status``.

No idempotency key is sent. ``I-Twilio-Idempotency-Token`` is a header Twilio puts on the webhooks it
sends; Twilio does not document the Messages endpoint honouring it (or any other key) on requests. As
with 46elks, the caller guarantees at-most-once and reads ``TransientProviderError.may_have_been_sent``.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import httpx
from django.conf import settings

from participants.reminders.providers import (
    OutgoingMessage,
    SendResult,
    TransientProviderError,
    error_for_status,
    post_form,
    redact,
)


class TwilioProvider:
    name = "twilio"
    channel: Literal["sms", "email"] = "sms"

    def __init__(
        self, *, base_url: str, account_sid: str, auth_token: str, sender: str, timeout: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> TwilioProvider:
        return cls(
            base_url=settings.TWILIO_BASE_URL,
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            sender=settings.TWILIO_FROM,
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        )

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}/Messages.json"

    def send(self, message: OutgoingMessage) -> SendResult:
        fields = {"To": message.to, "From": self.sender, "Body": message.body}
        if message.status_callback_url:
            fields["StatusCallback"] = message.status_callback_url
        response = post_form(
            provider="twilio",
            url=self.messages_url,
            fields=fields,
            auth=(self.account_sid, self.auth_token),
            timeout=self.timeout,
        )

        answer = _json_object(response)
        if not response.is_success:
            code = answer.get("code", "-")
            text = redact(str(answer.get("message", response.reason_phrase)), message=message)
            raise error_for_status(
                response.status_code, f"twilio: HTTP {response.status_code} code {code}: {text}"
            )
        reference = answer.get("sid")
        if not isinstance(reference, str) or not reference:
            raise TransientProviderError(
                "twilio: unreadable answer to a sent message", may_have_been_sent=True
            )
        return SendResult(provider=self.name, reference=reference, status=str(answer.get("status", "")))


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
