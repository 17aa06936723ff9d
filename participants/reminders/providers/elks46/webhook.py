"""46elks delivery reports: a form POST (``id``, ``status``, ``delivered``) to the ``whendelivered`` URL.

46elks does not sign its callbacks, so the client puts a token in the URL it hands over:
``?attempt=<idempotency key>&token=<HMAC-SHA256(ELKS46_WEBHOOK_SECRET, attempt)>``. The secret itself never
leaves this server (46elks keeps and shows the URLs), and a leaked URL vouches for one attempt only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from participants.reminders.providers import DeliveryReport, ForgedCallback, MalformedCallback

__all__ = ["ForgedCallback", "MalformedCallback", "callback_token", "parse_delivery_report"]

_STATUSES: dict[str, Literal["delivered", "failed", "sent"]] = {
    "delivered": "delivered",
    "failed": "failed",
    "sent": "sent",  # some 46elks accounts also report the hand-over to the carrier
}


def _utf8(text: str) -> bytes:
    # surrogatepass: query strings from outside may hold lone surrogates; they must fail the check, not crash
    return text.encode("utf-8", "surrogatepass")


def callback_token(*, attempt: str, secret: str) -> str:
    return hmac.new(_utf8(secret), b"46elks-dlr:" + _utf8(attempt), hashlib.sha256).hexdigest()


def _webhook_secret() -> str:
    secret: str = settings.ELKS46_WEBHOOK_SECRET
    if not secret:
        raise ImproperlyConfigured(
            "ELKS46_WEBHOOK_SECRET is empty: 46elks delivery reports cannot be checked"
        )
    return secret


def parse_delivery_report(*, query: Mapping[str, str], form: Mapping[str, str]) -> DeliveryReport:
    """The report in a 46elks callback; ``query`` is the URL's query string, ``form`` the POST body."""
    attempt = query.get("attempt", "")
    token = query.get("token", "")
    if not attempt or not token:
        raise ForgedCallback("46elks delivery report without its attempt token")
    expected = callback_token(attempt=attempt, secret=_webhook_secret())
    if not hmac.compare_digest(_utf8(expected), _utf8(token)):
        raise ForgedCallback("46elks delivery report with a wrong attempt token")

    reference = form.get("id", "")
    status = _STATUSES.get(form.get("status", ""))
    if not reference:
        raise MalformedCallback("46elks delivery report without an id")
    if status is None:
        raise MalformedCallback("46elks delivery report with an unknown status")
    detail = form.get("delivered", "") if status == "delivered" else ""
    return DeliveryReport(provider="elks46", reference=reference, status=status, detail=detail)
