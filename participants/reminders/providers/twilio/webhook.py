"""Twilio status callbacks: a form POST (``MessageSid``, ``MessageStatus``, ...) signed in ``X-Twilio-Signature``.

The signature is Base64(HMAC-SHA1(auth token, full URL + each POST parameter's name and value, sorted by
name)). ``url`` must be the URL exactly as Twilio called it, query string included: the view rebuilds it
from ``PUBLIC_BASE_URL`` and the request's full path, since a proxy in front may change scheme or host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from participants.reminders.providers import DeliveryReport, ForgedCallback, MalformedCallback

__all__ = [
    "ForgedCallback",
    "MalformedCallback",
    "check_signature",
    "expected_signature",
    "parse_status_callback",
]

# Twilio's message statuses, folded into ours. "queued", "accepted" and the like arrive only when a
# Messaging Service is involved; they mean "on its way", as "sent" does.
_STATUSES: dict[str, Literal["delivered", "failed", "sent"]] = {
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
    "sent": "sent",
    "sending": "sent",
    "queued": "sent",
    "accepted": "sent",
    "scheduled": "sent",
}


def _utf8(text: str) -> bytes:
    # surrogatepass: text from outside may hold lone surrogates; they must fail the check, not crash
    return text.encode("utf-8", "surrogatepass")


def expected_signature(*, url: str, form: Mapping[str, str], auth_token: str) -> str:
    signed = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(_utf8(auth_token), _utf8(signed), hashlib.sha1).digest()).decode("ascii")


def check_signature(*, url: str, form: Mapping[str, str], signature: str, auth_token: str) -> None:
    """Raise ``ForgedCallback`` unless ``signature`` is Twilio's signature of this URL and form."""
    if not auth_token:
        raise ImproperlyConfigured("TWILIO_AUTH_TOKEN is empty: Twilio callbacks cannot be checked")
    if not signature:
        raise ForgedCallback("Twilio callback without X-Twilio-Signature")
    expected = expected_signature(url=url, form=form, auth_token=auth_token)
    if not hmac.compare_digest(_utf8(expected), _utf8(signature)):
        raise ForgedCallback("Twilio callback with a wrong X-Twilio-Signature")


def parse_status_callback(*, url: str, form: Mapping[str, str], signature: str) -> DeliveryReport:
    """The report in a Twilio status callback, once its signature checks out."""
    check_signature(url=url, form=form, signature=signature, auth_token=settings.TWILIO_AUTH_TOKEN)
    reference = form.get("MessageSid", "")
    status = _STATUSES.get(form.get("MessageStatus", ""))
    if not reference:
        raise MalformedCallback("Twilio status callback without a MessageSid")
    if status is None:
        raise MalformedCallback("Twilio status callback with an unknown MessageStatus")
    error_code = form.get("ErrorCode", "")
    detail = f"ErrorCode {error_code}" if status == "failed" and error_code else ""
    return DeliveryReport(provider="twilio", reference=reference, status=status, detail=detail)
