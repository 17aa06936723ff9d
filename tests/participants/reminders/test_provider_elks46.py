"""46elks: the client against a fake 46elks on loopback, and delivery reports through a loopback receiver."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from participants.reminders.providers import (
    DeliveryReport,
    OutgoingMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
    sms_provider,
)
from participants.reminders.providers.elks46.client import delivery_report_url
from participants.reminders.providers.elks46.fake import Fake46elks
from participants.reminders.providers.elks46.webhook import (
    ForgedCallback,
    MalformedCallback,
    callback_token,
    parse_delivery_report,
)

USERNAME = "u0123456789abcdef"
PASSWORD = "elks-api-password"
SECRET = "elks-webhook-secret"
NUMBER = "+46701234567"
ARABIC = "مرحبا أمل، استبيان الموجة الثانية جاهز. شكرا لمشاركتك!"
TIGRINYA = "ሰላም፣ ናይ ካልኣይ ዙር መጠይቕ ድሉው እዩ።"


def _message(**overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {"to": NUMBER, "body": ARABIC, "idempotency_key": "reminder-1"}
    fields.update(overrides)
    return OutgoingMessage(**fields)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def elks(settings: Any) -> Iterator[Fake46elks]:
    with Fake46elks(username=USERNAME, password=PASSWORD) as fake:
        settings.SMS_BACKEND = "elks46"
        settings.ELKS46_BASE_URL = fake.base_url
        settings.ELKS46_API_USERNAME = USERNAME
        settings.ELKS46_API_PASSWORD = PASSWORD
        settings.ELKS46_FROM = "Panel"
        settings.ELKS46_WEBHOOK_SECRET = SECRET
        settings.PROVIDER_TIMEOUT_SECONDS = 5.0
        yield fake


@dataclass(frozen=True)
class CapturedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


class CallbackReceiver:
    """A loopback HTTP server standing in for our webhook view: it records each POST and answers 204."""

    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(CapturedRequest(self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> CallbackReceiver:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


# --- sending -------------------------------------------------------------------------------------------


def test_send_posts_the_exact_fields_and_returns_the_46elks_id(elks: Fake46elks) -> None:
    # given
    message = _message(status_callback_url="https://panel.example.org/webhooks/elks46/")

    # when
    result = sms_provider().send(message)

    # then
    token = callback_token(attempt="reminder-1", secret=SECRET)
    assert elks.messages == [
        {
            "from": "Panel",
            "to": NUMBER,
            "message": ARABIC,
            "whendelivered": f"https://panel.example.org/webhooks/elks46/?attempt=reminder-1&token={token}",
            "id": result.reference,
        }
    ]
    assert result == SendResult(provider="elks46", reference=result.reference, status="created")
    assert result.reference.startswith("s")
    assert len(result.reference) == 33


def test_a_1000_character_arabic_and_tigrinya_body_arrives_intact(elks: Fake46elks) -> None:
    body = (f"{TIGRINYA} {ARABIC} " * 20)[:1000]

    sms_provider().send(_message(body=body))

    assert [message["message"] for message in elks.messages] == [body]
    assert len(elks.messages[0]["message"]) == 1000


def test_without_a_callback_url_no_whendelivered_is_sent(elks: Fake46elks) -> None:
    sms_provider().send(_message())

    assert sorted(elks.messages[0]) == ["from", "id", "message", "to"]


def test_the_callback_url_keeps_its_own_query_parameters() -> None:
    url = delivery_report_url(
        "https://panel.example.org/dlr?channel=sms", attempt="reminder-9", secret=SECRET
    )

    token = callback_token(attempt="reminder-9", secret=SECRET)
    assert url == f"https://panel.example.org/dlr?channel=sms&attempt=reminder-9&token={token}"


def test_wrong_api_credentials_are_a_permanent_error_and_nothing_is_sent(
    elks: Fake46elks, settings: Any
) -> None:
    settings.ELKS46_API_PASSWORD = "not-the-password"

    with pytest.raises(PermanentProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "46elks: HTTP 401: Unauthorized"
    assert elks.messages == []


def test_a_503_is_transient_and_the_next_attempt_goes_through(elks: Fake46elks) -> None:
    elks.fail_next(1, status=503)
    provider = sms_provider()

    with pytest.raises(TransientProviderError) as raised:
        provider.send(_message())
    result = provider.send(_message())

    assert str(raised.value) == "46elks: HTTP 503: Service Unavailable"
    assert raised.value.may_have_been_sent is True
    assert [message["id"] for message in elks.messages] == [result.reference]


def test_a_429_is_transient_and_was_not_sent(elks: Fake46elks) -> None:
    elks.fail_next(1, status=429)

    with pytest.raises(TransientProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "46elks: HTTP 429: Too Many Requests"
    assert raised.value.may_have_been_sent is False


def test_a_closed_port_is_transient_and_was_not_sent(elks: Fake46elks, settings: Any) -> None:
    settings.ELKS46_BASE_URL = f"http://127.0.0.1:{_closed_port()}/a1"

    with pytest.raises(TransientProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "46elks: could not connect (ConnectError)"
    assert raised.value.may_have_been_sent is False


def test_a_gateway_slower_than_the_timeout_is_transient_and_may_have_been_sent(
    elks: Fake46elks, settings: Any
) -> None:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.2
    elks.delay_next(1.0)

    with pytest.raises(TransientProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "46elks: request failed (ReadTimeout)"
    assert raised.value.may_have_been_sent is True


def test_an_invalid_number_is_permanent_and_the_error_does_not_name_it(elks: Fake46elks) -> None:
    message = _message(to="0701234567")

    with pytest.raises(PermanentProviderError) as raised:
        sms_provider().send(message)

    assert str(raised.value) == '46elks: HTTP 400: Invalid "to" number: [redacted]'
    assert "0701234567" not in repr(raised.value)
    assert ARABIC not in repr(raised.value)
    assert elks.messages == []


# --- delivery reports ----------------------------------------------------------------------------------


def test_a_delivered_report_round_trips_to_a_delivery_report(
    elks: Fake46elks, receiver: CallbackReceiver
) -> None:
    # given
    sent = sms_provider().send(_message(status_callback_url=f"{receiver.url}/webhooks/elks46/"))

    # when
    response = elks.deliver(sent.reference)

    # then
    assert response.status_code == 204
    [callback] = receiver.requests
    assert urlsplit(callback.path).path == "/webhooks/elks46/"
    assert sorted(callback.form) == ["delivered", "id", "status"]
    report = parse_delivery_report(query=callback.query, form=callback.form)
    assert report == DeliveryReport(
        provider="elks46", reference=sent.reference, status="delivered", detail=callback.form["delivered"]
    )


def test_a_failed_report_round_trips_to_a_failed_delivery_report(
    elks: Fake46elks, receiver: CallbackReceiver
) -> None:
    sent = sms_provider().send(_message(status_callback_url=f"{receiver.url}/webhooks/elks46/"))

    elks.deliver(sent.reference, status="failed")

    [callback] = receiver.requests
    assert callback.form == {"id": sent.reference, "status": "failed"}
    report = parse_delivery_report(query=callback.query, form=callback.form)
    assert report == DeliveryReport(provider="elks46", reference=sent.reference, status="failed", detail="")


def _valid_query(attempt: str = "reminder-1") -> dict[str, str]:
    return {"attempt": attempt, "token": callback_token(attempt=attempt, secret=SECRET)}


@override_settings(ELKS46_WEBHOOK_SECRET=SECRET)
@pytest.mark.parametrize(
    "query",
    [
        pytest.param({}, id="no token at all"),
        pytest.param({"attempt": "reminder-1"}, id="missing token"),
        pytest.param({"token": callback_token(attempt="reminder-1", secret=SECRET)}, id="missing attempt"),
        pytest.param({"attempt": "reminder-1", "token": "0" * 64}, id="wrong token"),
        pytest.param(
            {"attempt": "reminder-2", "token": _valid_query()["token"]}, id="token of another attempt"
        ),
        pytest.param(
            {"attempt": "reminder-1", "token": callback_token(attempt="reminder-1", secret="guess")},
            id="token made with another secret",
        ),
    ],
)
def test_a_report_without_the_right_token_is_forged(query: dict[str, str]) -> None:
    with pytest.raises(ForgedCallback):
        parse_delivery_report(query=query, form={"id": "s1", "status": "delivered"})


@override_settings(ELKS46_WEBHOOK_SECRET=SECRET)
@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"status": "delivered"}, "46elks delivery report without an id"),
        ({"id": "s1", "status": "lost"}, "46elks delivery report with an unknown status"),
        ({"id": "s1"}, "46elks delivery report with an unknown status"),
    ],
)
def test_an_authentic_report_that_cannot_be_read_is_malformed(form: dict[str, str], problem: str) -> None:
    with pytest.raises(MalformedCallback) as raised:
        parse_delivery_report(query=_valid_query(), form=form)

    assert str(raised.value) == problem
    assert isinstance(raised.value, ValueError)


@override_settings(ELKS46_WEBHOOK_SECRET=SECRET)
def test_a_sent_report_is_reported_as_sent() -> None:
    report = parse_delivery_report(query=_valid_query(), form={"id": "s1", "status": "sent"})

    assert report == DeliveryReport(provider="elks46", reference="s1", status="sent", detail="")


_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates included


@given(
    query=st.dictionaries(st.sampled_from(["attempt", "token", "other"]), _TEXT),
    form=st.dictionaries(_TEXT, _TEXT),
)
def test_the_report_parser_rejects_any_unsigned_input_with_forged_callback_only(
    query: dict[str, str], form: dict[str, str]
) -> None:
    with override_settings(ELKS46_WEBHOOK_SECRET=SECRET), pytest.raises(ForgedCallback):
        parse_delivery_report(query=query, form=form)
