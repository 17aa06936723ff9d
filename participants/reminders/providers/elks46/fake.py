"""A fake 46elks on 127.0.0.1 for tests: a real HTTP server in a background thread.

    with Fake46elks(username="u", password="p") as elks:
        settings.ELKS46_BASE_URL = elks.base_url
        ...
        elks.deliver(reference)  # posts the delivery report to the message's whendelivered URL

It answers like the real ``POST /a1/sms``: 401 without the right Basic auth, 400 when ``to`` is not E.164
(echoing the number, as a pessimistic provider would, so tests can prove the client redacts it), and
a JSON object with an ``id`` of "s" + hex otherwise. ``fail_next`` and ``delay_next`` simulate outages.
"""

from __future__ import annotations

import base64
import binascii
import datetime
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed answer must not hold up the test's teardown

    def __init__(self, fake: Fake46elks) -> None:
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
        status, content_type, body = self.server.fake._answer(
            self.path, self.headers.get("Authorization", ""), form
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Fake46elks:
    def __init__(self, *, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._lock = threading.Lock()
        self._messages: list[dict[str, str]] = []
        self._failures: list[int] = []
        self._delays: list[float] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Fake46elks:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-46elks", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Fake46elks:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the fake first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/a1"

    # --- what tests look at and steer --------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        """Accepted messages, oldest first: the form fields plus ``id``."""
        with self._lock:
            return [dict(message) for message in self._messages]

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._delays.append(seconds)

    def deliver(self, reference: str, status: str = "delivered") -> httpx.Response:
        """POST a delivery report for ``reference`` to its ``whendelivered`` URL, as 46elks does."""
        with self._lock:
            message = next(message for message in self._messages if message["id"] == reference)
        if not message.get("whendelivered"):
            raise LookupError(f"message {reference} was sent without a whendelivered URL")
        report = {"id": reference, "status": status}
        if status == "delivered":
            report["delivered"] = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return httpx.post(message["whendelivered"], data=report, timeout=5)

    # --- the API -----------------------------------------------------------------------------------

    def _answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, str, bytes]:
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
        if delay:
            time.sleep(delay)
        if failure is not None:
            return failure, "text/plain", HTTPStatus(failure).phrase.encode()
        if path.rstrip("/") != "/a1/sms":
            return 404, "text/plain", b"Not found"
        if not self._authorized(authorization):
            return 401, "text/plain", b"Unauthorized"
        for key in ("from", "to", "message"):
            if not form.get(key):
                return 400, "text/plain", f"Missing key {key}".encode()
        if not E164.match(form["to"]):
            return 400, "text/plain", f'Invalid "to" number: {form["to"]}'.encode()

        message = {**form, "id": f"s{uuid.uuid4().hex}"}
        with self._lock:
            self._messages.append(message)
        answer = {
            "status": "created",
            "direction": "outgoing",
            "from": form["from"],
            "to": form["to"],
            "message": form["message"],
            "created": datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "parts": 1,
            "estimated_cost": 3500,
            "id": message["id"],
        }
        return 200, "application/json", json.dumps(answer).encode()

    def _authorized(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"{self.username}:{self.password}"
