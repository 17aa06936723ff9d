"""A fake Twilio Messages API on 127.0.0.1 for tests: a real HTTP server in a background thread.

    with FakeTwilio(account_sid="AC...", auth_token="...") as twilio:
        settings.TWILIO_BASE_URL = twilio.base_url
        ...
        twilio.deliver(sid)  # posts a signed status callback to the message's StatusCallback URL

It answers like ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: 401 (code 20003) without the
right Basic auth, 400 (code 21211, echoing the number as Twilio does) when ``To`` is not E.164, and 201
with ``sid`` "SM" + hex and ``status`` "queued" otherwise. It does not deduplicate: Twilio documents no
idempotency key for this endpoint. The callback signature is computed here independently of
``webhook.py``, so a round trip through both checks one against the other.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid
from http import HTTPStatus
from typing import Any

import httpx

from participants.reminders.providers.fake_gateway import E164, FakeGateway

_ERROR_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


def sign(url: str, form: dict[str, str], auth_token: str) -> str:
    """Twilio's request signature, as its security docs describe it."""
    signed = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class FakeTwilio(FakeGateway):
    thread_name = "fake-twilio"

    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token

    # --- what tests look at and steer --------------------------------------------------------------

    def deliver(self, sid: str, status: str = "delivered") -> httpx.Response:
        """POST a signed status callback for ``sid`` to its ``StatusCallback`` URL, as Twilio does."""
        message = self._find("sid", sid)
        url = message.get("StatusCallback")
        if not url:
            raise LookupError(f"message {sid} was sent without a StatusCallback URL")
        callback = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message["From"],
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message["To"],
        }
        if status in ("undelivered", "failed"):
            callback["ErrorCode"] = "30003"  # "Unreachable destination handset"
        headers = {"X-Twilio-Signature": sign(url, callback, self.auth_token)}
        return httpx.post(url, data=callback, headers=headers, timeout=5)

    # --- the API -----------------------------------------------------------------------------------

    def answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, str, bytes]:
        status, answer = self._answer(path, authorization, form)
        return status, "application/json", json.dumps(answer).encode()

    def _answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        failure = self._planned_fault()
        if failure is not None:
            return failure, _error(failure, _ERROR_CODES.get(failure, 20500), HTTPStatus(failure).phrase)
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, _error(404, 20404, "The requested resource was not found")
        if not self._basic_auth_is(authorization, self.account_sid, self.auth_token):
            return 401, _error(401, 20003, "Authenticate")
        if not form.get("From"):
            return 400, _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return 400, _error(400, 21602, "Message body is required.")
        if not E164.match(form.get("To", "")):
            return 400, _error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To', '')}")

        sid = f"SM{uuid.uuid4().hex}"
        self._record({**form, "sid": sid})
        now = datetime.datetime.now(tz=datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        answer = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "num_segments": "1",
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return 201, answer


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
