"""What the fake providers share: a real HTTP server on 127.0.0.1 in a background thread.

A subclass speaks one provider's API in ``answer``; this base runs the server, records accepted messages,
and lets tests steer it: ``fail_next(n, status)`` answers n requests with an error, ``delay_next(seconds)``
holds the next answer back (a slow gateway, or one that is cut off mid-call).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed answer must not hold up the test's teardown

    def __init__(self, fake: FakeGateway) -> None:
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
        status, content_type, body = self.server.fake.answer(
            self.path, self.headers.get("Authorization", ""), form
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeGateway:
    api_path = ""  # appended to the server's address in ``base_url``
    thread_name = "fake-gateway"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, str]] = []
        self._failures: list[int] = []
        self._delays: list[float] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the fake first")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.api_path}"

    # --- what tests look at and steer --------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        """Accepted messages, oldest first: the form fields plus the provider's id."""
        with self._lock:
            return [dict(message) for message in self._messages]

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._delays.append(seconds)

    # --- for subclasses ------------------------------------------------------------------------------

    def answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def _planned_fault(self) -> int | None:
        """Waits out a planned delay; returns a planned failure status, if any."""
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
        if delay:
            time.sleep(delay)
        return failure

    def _record(self, message: dict[str, str]) -> None:
        with self._lock:
            self._messages.append(message)

    def _find(self, key: str, value: str) -> dict[str, str]:
        with self._lock:
            return next(message for message in self._messages if message[key] == value)

    @staticmethod
    def _basic_auth_is(authorization: str, username: str, password: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"{username}:{password}"
