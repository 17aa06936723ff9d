"""Delivery reports: POST /api/v1/webhooks/elks46/<reminder_id>/ and /api/v1/webhooks/twilio/<reminder_id>/.

46elks does not sign its callbacks: the URL carries ``attempt=reminder-<id>`` and an HMAC token of it. Twilio
signs the full URL and form in X-Twilio-Signature. A forged callback is refused (403) and changes nothing; an
authentic one that cannot be read is refused with 400.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from participants.models import ConsentText, Participant, Reminder, Site
from participants.reminders import services as reminders
from participants.reminders.providers.elks46.webhook import callback_token
from participants.reminders.providers.twilio.webhook import expected_signature
from surveys.models import Wave
from tests.participants.reminders.conftest import API, T0, Clock, claim, person, reminder_of

ELKS_SECRET = "elks-dlr-secret-0123"
TWILIO_TOKEN = "twilio-auth-token-0123"
BASE = "https://panel.example.org"
LATER = T0 + datetime.timedelta(minutes=3)


@pytest.fixture(autouse=True)
def provider_settings(settings: Any) -> Any:
    settings.ELKS46_WEBHOOK_SECRET = ELKS_SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = BASE
    return settings


def _sent(participant: Participant, wave: Wave, provider: str, reference: str) -> Reminder:
    """The participant's invitation, claimed, begun and handed to ``provider`` at T0."""
    invitation = reminder_of(participant, wave, "invitation")
    assert invitation.pk in claim(T0)
    assert reminders.reminder_begin(reminder_id=invitation.pk, now=T0) is not None
    assert reminders.reminder_sent(reminder_id=invitation.pk, provider=provider, reference=reference, now=T0)
    invitation.refresh_from_db()
    return invitation


@pytest.fixture
def sms(clock: Clock, wave: Wave, amira_p: Participant) -> Reminder:
    """Amira's invitation, sent by SMS through 46elks (she has no e-mail)."""
    sent = _sent(amira_p, wave, "elks46", "s70df59406a1b4643b96f3f91e0bfb7b0")
    clock.move_to(LATER)
    return sent


@pytest.fixture
def noor(clock: Clock, site_a: Site, fatima_user: User, consent_text: ConsentText) -> Participant:
    return person(site_a, fatima_user, consent_text, phone="+46704444444", email="noor@example.org")


def _state(reminder: Reminder) -> tuple[Any, ...]:
    reminder.refresh_from_db()
    return reminder.status, reminder.channel, reminder.channels_tried, reminder.delivered_at, reminder.outcome


def _post_form(path: str, form: dict[str, str], **headers: str) -> Any:
    return APIClient().post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", **headers
    )


# --- 46elks -------------------------------------------------------------------------------------------------


def elks_path(
    reminder_id: int, *, attempt_id: int | None = None, secret: str = ELKS_SECRET, **query: str
) -> str:
    attempt = f"reminder-{reminder_id if attempt_id is None else attempt_id}"
    params = {"attempt": attempt, "token": callback_token(attempt=attempt, secret=secret), **query}
    return f"{API}/webhooks/elks46/{reminder_id}/?{urlencode(params)}"


def _elks_form(status: str = "delivered") -> dict[str, str]:
    return {
        "id": "s70df59406a1b4643b96f3f91e0bfb7b0",
        "status": status,
        "delivered": "2027-01-11T09:02:11.000000",
    }


def test_an_authentic_46elks_delivery_report_marks_the_reminder_delivered(sms: Reminder) -> None:
    answer = _post_form(elks_path(sms.pk), _elks_form())
    assert (answer.status_code, answer.content) == (204, b"")
    assert _state(sms) == ("delivered", "sms", [], LATER, "")
    assert sms.provider_reference == "s70df59406a1b4643b96f3f91e0bfb7b0"


def test_the_same_46elks_delivery_report_twice_changes_nothing_the_second_time(
    clock: Clock, sms: Reminder
) -> None:
    _post_form(elks_path(sms.pk), _elks_form())
    clock.move_to(LATER + datetime.timedelta(minutes=5))
    answer = _post_form(elks_path(sms.pk), _elks_form())
    assert answer.status_code == 204
    assert _state(sms) == ("delivered", "sms", [], LATER, "")


@pytest.mark.parametrize("status", ["delivered", "failed"])
def test_an_authentic_46elks_report_about_another_message_changes_nothing(sms: Reminder, status: str) -> None:
    # given a report whose message id is not the one 46elks gave when this reminder was sent
    form = {**_elks_form(status), "id": "s0000000000000000000000000000other"}
    # when it arrives on this reminder's (authentic) callback URL
    answer = _post_form(elks_path(sms.pk), form)
    # then it is acknowledged, but the reminder stays as it was
    assert answer.status_code == 204
    assert _state(sms) == ("sent", "sms", [], None, "")
    assert sms.provider_reference == "s70df59406a1b4643b96f3f91e0bfb7b0"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            lambda pk: f"{API}/webhooks/elks46/{pk}/?attempt=reminder-{pk}&token={'0' * 64}", id="wrong"
        ),
        pytest.param(lambda pk: f"{API}/webhooks/elks46/{pk}/?attempt=reminder-{pk}", id="missing-token"),
        pytest.param(lambda pk: f"{API}/webhooks/elks46/{pk}/", id="no-query"),
        pytest.param(lambda pk: elks_path(pk, secret="another-secret"), id="other-secret"),
        pytest.param(lambda pk: elks_path(pk, attempt_id=pk + 1), id="another-reminder"),
        pytest.param(
            lambda pk: (
                f"{API}/webhooks/elks46/{pk}/?attempt=reminder-{pk}&token="
                + callback_token(attempt=f"reminder-{pk + 1}", secret=ELKS_SECRET)
            ),
            id="token-of-another-reminder",
        ),
    ],
)
def test_a_46elks_report_without_a_valid_token_for_this_reminder_is_refused_and_changes_nothing(
    sms: Reminder, path: Any
) -> None:
    answer = _post_form(path(sms.pk), _elks_form())
    assert (answer.status_code, answer.json()) == (403, {"detail": "Forbidden."})
    assert _state(sms) == ("sent", "sms", [], None, "")


def test_a_token_for_one_reminder_cannot_settle_another(
    clock: Clock, wave: Wave, sms: Reminder, noor: Participant
) -> None:
    # given noor's invitation was also sent
    other = _sent(noor, wave, "elks46", "s0ther")
    # when amira's valid URL query is replayed against noor's reminder
    answer = _post_form(
        f"{API}/webhooks/elks46/{other.pk}/?" + elks_path(sms.pk).split("?", 1)[1], _elks_form()
    )
    # then
    assert answer.status_code == 403
    assert _state(other)[0] == "sent"
    assert _state(sms)[0] == "sent"


@pytest.mark.parametrize(
    ("form", "detail"),
    [
        ({"status": "delivered"}, "46elks delivery report without an id"),
        ({"id": "s1", "status": "exploded"}, "46elks delivery report with an unknown status"),
        ({"id": "s1"}, "46elks delivery report with an unknown status"),
    ],
)
def test_an_authentic_but_malformed_46elks_report_is_refused_with_400(
    sms: Reminder, form: dict[str, str], detail: str
) -> None:
    answer = _post_form(elks_path(sms.pk), form)
    assert (answer.status_code, answer.json()) == (400, {"detail": detail})
    assert _state(sms) == ("sent", "sms", [], None, "")


def test_a_46elks_sent_report_changes_nothing(sms: Reminder) -> None:
    answer = _post_form(elks_path(sms.pk), _elks_form("sent"))
    assert answer.status_code == 204
    assert _state(sms) == ("sent", "sms", [], None, "")


def test_a_46elks_failed_report_without_another_channel_fails_the_reminder(sms: Reminder) -> None:
    answer = _post_form(elks_path(sms.pk), _elks_form("failed"))
    assert answer.status_code == 204
    assert _state(sms) == ("failed", "sms", ["sms"], None, "sms failed: delivery failed")


def test_a_delivery_report_settles_a_reminder_whose_worker_stopped_before_recording_the_send(
    clock: Clock, wave: Wave, amira_p: Participant
) -> None:
    # given the worker died after handing the SMS over (row stuck in sending, then marked failed)
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0)
    reminders.reminder_begin(reminder_id=invitation.pk, now=T0)
    assert (
        reminders.reminders_claim_due(now=T0 + datetime.timedelta(minutes=20), limit=10).gave_up_unknown == 1
    )
    clock.move_to(T0 + datetime.timedelta(minutes=21))
    # when 46elks reports it delivered
    answer = _post_form(elks_path(invitation.pk), _elks_form())
    # then the report proves it
    assert answer.status_code == 204
    invitation.refresh_from_db()
    assert (invitation.status, invitation.provider_reference, invitation.delivered_at) == (
        "delivered", "s70df59406a1b4643b96f3f91e0bfb7b0", T0 + datetime.timedelta(minutes=21),
    )  # fmt: skip


def test_a_webhook_takes_no_json_and_no_credentials(sms: Reminder, fatima: APIClient) -> None:
    answer = fatima.post(elks_path(sms.pk), _elks_form(), format="json")
    assert answer.status_code == 415
    assert _state(sms)[0] == "sent"


# --- Twilio -------------------------------------------------------------------------------------------------


def twilio_path(reminder_id: int) -> str:
    return f"{API}/webhooks/twilio/{reminder_id}/"


def _twilio_form(status: str = "delivered", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "MessageStatus": status,
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "To": "+46701111111",
        **extra,
    }


def _signed(path: str, form: dict[str, str]) -> str:
    return expected_signature(url=BASE + path, form=form, auth_token=TWILIO_TOKEN)


def _post_twilio(reminder_id: int, form: dict[str, str], *, signature: str | None = None) -> Any:
    path = twilio_path(reminder_id)
    return _post_form(
        path, form, HTTP_X_TWILIO_SIGNATURE=_signed(path, form) if signature is None else signature
    )


@pytest.fixture
def twilio_sms(clock: Clock, wave: Wave, amira_p: Participant) -> Reminder:
    sent = _sent(amira_p, wave, "twilio", "SM0123456789abcdef0123456789abcdef")
    clock.move_to(LATER)
    return sent


def test_a_correctly_signed_twilio_callback_marks_the_reminder_delivered(twilio_sms: Reminder) -> None:
    answer = _post_twilio(twilio_sms.pk, _twilio_form())
    assert answer.status_code == 204
    assert _state(twilio_sms) == ("delivered", "sms", [], LATER, "")


def test_twilio_read_receipts_count_as_delivered(twilio_sms: Reminder) -> None:
    assert _post_twilio(twilio_sms.pk, _twilio_form("read")).status_code == 204
    assert _state(twilio_sms)[0] == "delivered"


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="missing"),
        pytest.param("bm90IGEgc2lnbmF0dXJl", id="forged"),
        pytest.param(
            expected_signature(
                url=BASE + "/api/v1/webhooks/twilio/1/", form=_twilio_form(), auth_token=TWILIO_TOKEN
            ),
            id="signed-for-another-url",
        ),
        pytest.param(
            expected_signature(url=BASE + "/", form=_twilio_form(), auth_token="another-token"),
            id="another-token",
        ),
    ],
)
def test_a_twilio_callback_without_a_valid_signature_is_refused_and_changes_nothing(
    twilio_sms: Reminder, signature: str
) -> None:
    answer = _post_twilio(twilio_sms.pk, _twilio_form(), signature=signature)
    assert (answer.status_code, answer.json()) == (403, {"detail": "Forbidden."})
    assert _state(twilio_sms) == ("sent", "sms", [], None, "")


def test_a_twilio_callback_whose_form_was_changed_after_signing_is_refused(twilio_sms: Reminder) -> None:
    path = twilio_path(twilio_sms.pk)
    signature = _signed(path, _twilio_form("failed"))
    answer = _post_form(path, _twilio_form("delivered"), HTTP_X_TWILIO_SIGNATURE=signature)
    assert answer.status_code == 403
    assert _state(twilio_sms)[0] == "sent"


def test_a_signed_twilio_callback_without_a_message_sid_is_refused_with_400(twilio_sms: Reminder) -> None:
    form = {"MessageStatus": "delivered"}
    answer = _post_twilio(twilio_sms.pk, form)
    assert (answer.status_code, answer.json()) == (
        400,
        {"detail": "Twilio status callback without a MessageSid"},
    )
    assert _state(twilio_sms)[0] == "sent"


def test_a_twilio_failed_callback_without_another_channel_fails_the_reminder(twilio_sms: Reminder) -> None:
    answer = _post_twilio(twilio_sms.pk, _twilio_form("failed", ErrorCode="30006"))
    assert answer.status_code == 204
    assert _state(twilio_sms) == ("failed", "sms", ["sms"], None, "sms failed: delivery failed")


def test_an_undelivered_twilio_sms_falls_back_to_email(clock: Clock, wave: Wave, noor: Participant) -> None:
    # given noor's invitation was sent by SMS through Twilio
    sent = _sent(noor, wave, "twilio", "SM0123456789abcdef0123456789abcdef")
    clock.move_to(LATER)
    # when Twilio reports it undelivered
    answer = _post_twilio(sent.pk, _twilio_form("undelivered", ErrorCode="30003"))
    # then the reminder is due again now, by e-mail
    assert answer.status_code == 204
    assert _state(sent) == (
        "pending", "email", ["sms"], None, "sms failed (delivery failed); falling back to email",
    )  # fmt: skip
    assert sent.due_at == LATER
    assert claim(LATER) == [sent.pk]


def test_a_repeated_failure_report_does_not_fail_the_email_fallback_that_was_never_sent(
    clock: Clock, wave: Wave, noor: Participant
) -> None:
    sent = _sent(noor, wave, "twilio", "SM0123456789abcdef0123456789abcdef")
    clock.move_to(LATER)
    form = _twilio_form("undelivered", ErrorCode="30003")
    assert _post_twilio(sent.pk, form).status_code == 204
    # when the same report arrives again (providers retry callbacks)
    assert _post_twilio(sent.pk, form).status_code == 204
    # then the e-mail fallback is still waiting to be sent
    assert _state(sent)[:3] == ("pending", "email", ["sms"])
