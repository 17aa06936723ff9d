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
import binascii
import datetime
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ERROR_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


def sign(url: str, form: dict[str, str], auth_token: str) -> str:
    """Twilio's request signature, as its security docs describe it."""
    signed = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed answer must not hold up the test's teardown

    def __init__(self, fake: FakeTwilio) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) breaks the pipe; nothing to report


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
        status, answer = self.server.fake._answer(self.path, self.headers.get("Authorization", ""), form)
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeTwilio:
    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._messages: list[dict[str, str]] = []
        self._failures: list[int] = []
        self._delays: list[float] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the fake first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- what tests look at and steer --------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        """Accepted messages, oldest first: the form fields plus ``sid``."""
        with self._lock:
            return [dict(message) for message in self._messages]

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._delays.append(seconds)

    def deliver(self, sid: str, status: str = "delivered") -> httpx.Response:
        """POST a signed status callback for ``sid`` to its ``StatusCallback`` URL, as Twilio does."""
        with self._lock:
            message = next(message for message in self._messages if message["sid"] == sid)
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

    def _answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
        if delay:
            time.sleep(delay)
        if failure is not None:
            return failure, _error(failure, _ERROR_CODES.get(failure, 20500), HTTPStatus(failure).phrase)
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, _error(404, 20404, "The requested resource was not found")
        if not self._authorized(authorization):
            return 401, _error(401, 20003, "Authenticate")
        if not form.get("From"):
            return 400, _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return 400, _error(400, 21602, "Message body is required.")
        if not E164.match(form.get("To", "")):
            return 400, _error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To', '')}")

        sid = f"SM{uuid.uuid4().hex}"
        with self._lock:
            self._messages.append({**form, "sid": sid})
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

    def _authorized(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"{self.account_sid}:{self.auth_token}"


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
