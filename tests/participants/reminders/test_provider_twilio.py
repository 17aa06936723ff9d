"""Twilio: the client against a fake Twilio on loopback, and signed status callbacks through a loopback receiver."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

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
from participants.reminders.providers.twilio.fake import FakeTwilio, sign
from participants.reminders.providers.twilio.webhook import (
    ForgedCallback,
    MalformedCallback,
    check_signature,
    expected_signature,
    parse_status_callback,
)

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-0123"
SENDER = "+46766860000"
NUMBER = "+46701234567"
ARABIC = "مرحبا أمل، استبيان الموجة الثانية جاهز. شكرا لمشاركتك!"
TIGRINYA = "ሰላም፣ ናይ ካልኣይ ዙር መጠይቕ ድሉው እዩ።"
CALLBACK_URL = "https://panel.example.org/webhooks/twilio/"


def _message(**overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {"to": NUMBER, "body": ARABIC, "idempotency_key": "reminder-1"}
    fields.update(overrides)
    return OutgoingMessage(**fields)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_BASE_URL = fake.base_url
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_FROM = SENDER
        settings.PROVIDER_TIMEOUT_SECONDS = 5.0
        yield fake


@dataclass(frozen=True)
class CapturedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

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


def test_send_posts_the_exact_fields_and_returns_the_twilio_sid(twilio: FakeTwilio) -> None:
    result = sms_provider().send(_message(status_callback_url=CALLBACK_URL))

    assert twilio.messages == [
        {
            "To": NUMBER,
            "From": SENDER,
            "Body": ARABIC,
            "StatusCallback": CALLBACK_URL,
            "sid": result.reference,
        }
    ]
    assert result == SendResult(provider="twilio", reference=result.reference, status="queued")
    assert result.reference.startswith("SM")
    assert len(result.reference) == 34


def test_a_1000_character_arabic_and_tigrinya_body_arrives_intact(twilio: FakeTwilio) -> None:
    body = (f"{TIGRINYA} {ARABIC} " * 20)[:1000]

    sms_provider().send(_message(body=body))

    assert [message["Body"] for message in twilio.messages] == [body]


def test_without_a_callback_url_no_status_callback_is_sent(twilio: FakeTwilio) -> None:
    sms_provider().send(_message())

    assert sorted(twilio.messages[0]) == ["Body", "From", "To", "sid"]


def test_the_same_idempotency_key_twice_sends_twice_because_twilio_takes_no_key(twilio: FakeTwilio) -> None:
    # Twilio documents no idempotency key for Messages: at-most-once is the reminder state machine's job.
    provider = sms_provider()

    first = provider.send(_message(idempotency_key="reminder-5"))
    second = provider.send(_message(idempotency_key="reminder-5"))

    assert [message["sid"] for message in twilio.messages] == [first.reference, second.reference]
    assert first.reference != second.reference


def test_a_wrong_auth_token_is_a_permanent_error_and_nothing_is_sent(
    twilio: FakeTwilio, settings: Any
) -> None:
    settings.TWILIO_AUTH_TOKEN = "not-the-token"

    with pytest.raises(PermanentProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "twilio: HTTP 401 code 20003: Authenticate"
    assert twilio.messages == []


def test_a_503_is_transient_and_the_next_attempt_goes_through(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, status=503)
    provider = sms_provider()

    with pytest.raises(TransientProviderError) as raised:
        provider.send(_message())
    result = provider.send(_message())

    assert str(raised.value) == "twilio: HTTP 503 code 20503: Service Unavailable"
    assert raised.value.may_have_been_sent is True
    assert [message["sid"] for message in twilio.messages] == [result.reference]


def test_a_429_is_transient_and_was_not_sent(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, status=429)

    with pytest.raises(TransientProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "twilio: HTTP 429 code 20429: Too Many Requests"
    assert raised.value.may_have_been_sent is False


def test_a_closed_port_is_transient_and_was_not_sent(twilio: FakeTwilio, settings: Any) -> None:
    settings.TWILIO_BASE_URL = f"http://127.0.0.1:{_closed_port()}"

    with pytest.raises(TransientProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "twilio: could not connect (ConnectError)"
    assert raised.value.may_have_been_sent is False


def test_an_api_slower_than_the_timeout_is_transient_and_may_have_been_sent(
    twilio: FakeTwilio, settings: Any
) -> None:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.2
    twilio.delay_next(1.0)

    with pytest.raises(TransientProviderError) as raised:
        sms_provider().send(_message())

    assert str(raised.value) == "twilio: request failed (ReadTimeout)"
    assert raised.value.may_have_been_sent is True


def test_an_invalid_number_is_permanent_and_the_error_does_not_name_it(twilio: FakeTwilio) -> None:
    message = _message(to="0701234567")

    with pytest.raises(PermanentProviderError) as raised:
        sms_provider().send(message)

    assert str(raised.value) == "twilio: HTTP 400 code 21211: Invalid 'To' Phone Number: [redacted]"
    assert "0701234567" not in repr(raised.value)
    assert ARABIC not in repr(raised.value)
    assert twilio.messages == []


# --- status callbacks ----------------------------------------------------------------------------------


def test_the_signature_matches_twilios_published_example() -> None:
    # The worked example of https://www.twilio.com/docs/usage/security#validating-requests
    form = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }

    signature = expected_signature(
        url="https://mycompany.com/myapp.php?foo=1&bar=2", form=form, auth_token="12345"
    )

    assert signature == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    ("twilio_status", "status", "detail"),
    [
        ("delivered", "delivered", ""),
        ("undelivered", "failed", "ErrorCode 30003"),
        ("failed", "failed", "ErrorCode 30003"),
    ],
)
def test_a_signed_status_callback_round_trips_to_a_delivery_report(
    twilio: FakeTwilio, receiver: CallbackReceiver, twilio_status: str, status: str, detail: str
) -> None:
    # given
    sent = sms_provider().send(_message(status_callback_url=f"{receiver.url}/webhooks/twilio/?reminder=1"))

    # when
    response = twilio.deliver(sent.reference, status=twilio_status)

    # then
    assert response.status_code == 204
    [callback] = receiver.requests
    assert callback.path == "/webhooks/twilio/?reminder=1"
    report = parse_status_callback(
        url=f"{receiver.url}{callback.path}",
        form=callback.form,
        signature=callback.headers["X-Twilio-Signature"],
    )
    assert report == DeliveryReport(provider="twilio", reference=sent.reference, status=status, detail=detail)


def _signed(form: dict[str, str], url: str = CALLBACK_URL) -> dict[str, Any]:
    return {"url": url, "form": form, "signature": sign(url, form, AUTH_TOKEN)}


CALLBACK = {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30003", "AccountSid": ACCOUNT_SID}


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN)
@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({**_signed(CALLBACK), "signature": ""}, id="missing signature"),
        pytest.param(
            {**_signed(CALLBACK), "signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}, id="wrong signature"
        ),
        pytest.param(
            {**_signed(CALLBACK), "form": {**CALLBACK, "MessageStatus": "delivered"}}, id="tampered parameter"
        ),
        pytest.param({**_signed(CALLBACK), "form": {**CALLBACK, "Extra": "1"}}, id="added parameter"),
        pytest.param(
            {**_signed(CALLBACK), "url": "https://attacker.example/webhooks/twilio/"},
            id="signed for another URL",
        ),
        pytest.param(
            {"url": CALLBACK_URL, "form": CALLBACK, "signature": sign(CALLBACK_URL, CALLBACK, "guess")},
            id="signed with another token",
        ),
    ],
)
def test_a_callback_without_a_valid_signature_is_forged(request_kwargs: dict[str, Any]) -> None:
    with pytest.raises(ForgedCallback):
        parse_status_callback(**request_kwargs)


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN)
@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("queued", "sent"),
        ("accepted", "sent"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "failed"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_twilio_statuses_fold_into_delivered_failed_or_sent(twilio_status: str, status: str) -> None:
    report = parse_status_callback(**_signed({"MessageSid": "SM1", "MessageStatus": twilio_status}))

    assert report == DeliveryReport(provider="twilio", reference="SM1", status=status)


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN)
@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"MessageStatus": "delivered"}, "Twilio status callback without a MessageSid"),
        (
            {"MessageSid": "SM1", "MessageStatus": "received"},
            "Twilio status callback with an unknown MessageStatus",
        ),
        ({"MessageSid": "SM1"}, "Twilio status callback with an unknown MessageStatus"),
    ],
)
def test_an_authentic_callback_that_cannot_be_read_is_malformed(form: dict[str, str], problem: str) -> None:
    with pytest.raises(MalformedCallback) as raised:
        parse_status_callback(**_signed(form))

    assert str(raised.value) == problem


_ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates included


@given(url=_ANY_TEXT, form=st.dictionaries(_ANY_TEXT, _ANY_TEXT), signature=_ANY_TEXT)
def test_the_signature_check_raises_nothing_but_forged_callback_for_arbitrary_input(
    url: str, form: dict[str, str], signature: str
) -> None:
    with pytest.raises(ForgedCallback):
        check_signature(url=url, form=form, signature=signature, auth_token=AUTH_TOKEN)
    with override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN), pytest.raises(ForgedCallback):
        parse_status_callback(url=url, form=form, signature=signature)


@given(url=st.text(), form=st.dictionaries(st.text(), st.text()))
def test_a_correctly_signed_arbitrary_callback_is_never_called_forged(url: str, form: dict[str, str]) -> None:
    # The fake's signer and the webhook's checker are written apart; they must agree on any input.
    with override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN):
        try:
            report = parse_status_callback(url=url, form=form, signature=sign(url, form, AUTH_TOKEN))
        except MalformedCallback:
            return
    assert report.reference == form["MessageSid"]
