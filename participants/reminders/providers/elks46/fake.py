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

import datetime
import json
import uuid
from http import HTTPStatus

import httpx

from participants.reminders.providers.fake_gateway import E164, FakeGateway


class Fake46elks(FakeGateway):
    api_path = "/a1"
    thread_name = "fake-46elks"

    def __init__(self, *, username: str, password: str) -> None:
        super().__init__()
        self.username = username
        self.password = password

    # --- what tests look at and steer --------------------------------------------------------------

    def deliver(self, reference: str, status: str = "delivered") -> httpx.Response:
        """POST a delivery report for ``reference`` to its ``whendelivered`` URL, as 46elks does."""
        message = self._find("id", reference)
        if not message.get("whendelivered"):
            raise LookupError(f"message {reference} was sent without a whendelivered URL")
        report = {"id": reference, "status": status}
        if status == "delivered":
            report["delivered"] = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return httpx.post(message["whendelivered"], data=report, timeout=5)

    # --- the API -----------------------------------------------------------------------------------

    def answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, str, bytes]:
        failure = self._planned_fault()
        if failure is not None:
            return failure, "text/plain", HTTPStatus(failure).phrase.encode()
        if path.rstrip("/") != "/a1/sms":
            return 404, "text/plain", b"Not found"
        if not self._basic_auth_is(authorization, self.username, self.password):
            return 401, "text/plain", b"Unauthorized"
        for key in ("from", "to", "message"):
            if not form.get(key):
                return 400, "text/plain", f"Missing key {key}".encode()
        if not E164.match(form["to"]):
            return 400, "text/plain", f'Invalid "to" number: {form["to"]}'.encode()

        message = {**form, "id": f"s{uuid.uuid4().hex}"}
        self._record(message)
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
