"""The Celery tasks: their explicit options (CONVENTIONS: a test checks them), the retry policy of
reminder_send, and the periodic ticks that claim reminders and move windows.

``reminder_send.apply`` runs the task in-process (eagerly); a retry is then run in-process too, with the
retry count raised, so a provider that keeps failing shows every attempt of the policy.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail

from backend.celery import app
from participants import tasks
from participants.models import ConsentText, Participant, Reminder, ReminderClaim, Response, Site
from participants.reminders import providers
from participants.reminders import services as reminders
from participants.reminders.providers import (
    OutgoingMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from participants.responses import services as response_services
from participants.services import contacts
from participants.tasks import (
    backoff_seconds,
    reminder_send,
    reminders_dispatch,
    reminders_tick,
    schedules_advance,
    study_schedules_sync,
)
from surveys.models import Study, Wave
from tests.participants.reminders.conftest import (
    T0,
    Clock,
    claim,
    make_wave,
    person,
    policy_create,
    reminder_of,
    schedule_of,
    utc,
)


def _task(proxy: Any) -> Any:
    """The task object behind the shared_task proxy (so patches land on it, and are undone)."""
    return proxy._get_current_object()


# --- options ------------------------------------------------------------------------------------------------


def test_reminder_send_has_an_explicit_retry_policy() -> None:
    task = _task(reminder_send)
    assert task.name == "participants.tasks.reminder_send"
    assert (task.max_retries, tasks.REMINDER_MAX_RETRIES) == (5, 5)
    assert not hasattr(task, "max_retry")  # the misspelling Celery would silently ignore
    assert task.acks_late is True
    assert (task.soft_time_limit, task.time_limit) == (30, 45)
    assert task.soft_time_limit < task.time_limit


def test_reminder_send_runs_on_the_providers_queue_and_the_ticks_on_the_default_queue() -> None:
    assert settings.CELERY_TASK_ROUTES == {"participants.tasks.reminder_send": {"queue": "providers"}}
    assert app.amqp.router.route({}, reminder_send.name)["queue"].name == "providers"
    assert app.amqp.router.route({}, reminders_tick.name)["queue"].name == "default"
    assert app.amqp.router.route({}, reminders_dispatch.name)["queue"].name == "default"
    assert app.amqp.router.route({}, schedules_advance.name)["queue"].name == "default"


@pytest.mark.parametrize(
    "proxy", [reminders_tick, reminders_dispatch, schedules_advance, study_schedules_sync]
)
def test_the_periodic_tasks_have_soft_and_hard_time_limits(proxy: Any) -> None:
    task = _task(proxy)
    assert (task.soft_time_limit, task.time_limit) == (50, 60)


def test_the_beat_schedule_runs_both_periodic_tasks() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"]: entry["schedule"] for entry in schedule.values()} == {
        "participants.tasks.reminders_tick": 60.0,
        "participants.tasks.schedules_advance": 300.0,
    }
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)


def test_a_worker_lost_mid_task_gives_the_message_back_and_takes_one_at_a_time() -> None:
    assert (app.conf.task_acks_late, app.conf.task_reject_on_worker_lost, app.conf.worker_prefetch_multiplier) == (
        True, True, 1,
    )  # fmt: skip


def _jitter(monkeypatch: pytest.MonkeyPatch, pick: Callable[[float, float], float]) -> None:
    monkeypatch.setattr(tasks, "random", SimpleNamespace(uniform=pick))


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff without its random part, so countdowns are exact."""
    _jitter(monkeypatch, lambda low, high: low)


def test_backoff_doubles_from_a_minute_and_stops_at_an_hour(no_jitter: None) -> None:
    assert [backoff_seconds(retries) for retries in range(8)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_seconds(40) == 3600


def test_backoff_jitter_adds_at_most_a_fifth(monkeypatch: pytest.MonkeyPatch) -> None:
    _jitter(monkeypatch, lambda low, high: high)
    assert [backoff_seconds(retries) for retries in range(8)] == [72, 144, 288, 576, 1152, 2304, 4320, 4320]


def test_backoff_with_real_jitter_stays_within_its_bounds() -> None:
    for retries in range(10):
        base = min(60 * 2**retries, 3600)
        assert all(base <= backoff_seconds(retries) <= base * 6 // 5 for _ in range(50))


# --- reminder_send and its retry policy ---------------------------------------------------------------------


@dataclass
class StubProvider:
    """An SMS provider that follows a script: an exception to raise, or None to accept the message."""

    script: list[Exception | None]
    name: str = "stub"
    channel: str = "sms"
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (to, idempotency key, reminder status)
    messages: list[OutgoingMessage] = field(default_factory=list)

    def send(self, message: OutgoingMessage) -> SendResult:
        reminder_id = int(message.idempotency_key.removeprefix("reminder-"))
        self.calls.append((message.to, message.idempotency_key, Reminder.objects.get(pk=reminder_id).status))
        self.messages.append(message)
        step = self.script[min(len(self.calls), len(self.script)) - 1]
        if step is not None:
            raise step
        return SendResult(provider=self.name, reference=f"{self.name}-{len(self.calls)}", status="created")


@dataclass
class RetrySpy:
    """What the task asked Celery when it retried: the countdown, and the row's state at that moment."""

    # (countdown, status, outcome, claimed_at) of the row when the task asked for the retry
    retries: list[tuple[int, str, str, datetime.datetime | None]] = field(default_factory=list)
    raised: list[tuple[str, Any]] = field(default_factory=list)  # (exception raised by retry(), its exc)


@pytest.fixture
def retry_spy() -> Iterator[RetrySpy]:
    task = _task(reminder_send)
    spy = RetrySpy()
    original = task.retry

    def retry(*args: Any, **kwargs: Any) -> Any:
        reminder = Reminder.objects.get(pk=task.request.args[0])
        spy.retries.append((kwargs["countdown"], reminder.status, reminder.outcome, reminder.claimed_at))
        try:
            return original(*args, **kwargs)
        except Retry as raised:
            spy.raised.append((type(raised).__name__, raised.exc))
            raise

    with mock.patch.object(task, "retry", side_effect=retry):
        yield spy


def _with_sms(
    monkeypatch: pytest.MonkeyPatch, script: list[Exception | None], name: str = "stub"
) -> StubProvider:
    stub = StubProvider(script=script, name=name)
    monkeypatch.setattr(providers, "sms_provider", lambda: stub)
    return stub


@pytest.fixture
def queued(clock: Clock, wave: Wave, amira_p: Participant) -> Reminder:
    """Amira's pre-departure invitation, claimed by a tick (it is 12:00 in Nairobi)."""
    invitation = reminder_of(amira_p, wave, "invitation")
    assert claim(T0) == [invitation.pk]
    return invitation


def test_a_transient_error_puts_the_reminder_back_to_pending_and_retries_after_a_minute(
    queued: Reminder, retry_spy: RetrySpy, no_jitter: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = _with_sms(monkeypatch, [TransientProviderError("gateway timeout"), None])
    # when
    result = reminder_send.apply(args=[queued.pk])
    # then the first attempt failed, the task retried (the row back to pending), the retry sent it
    assert (result.state, result.get()) == ("SUCCESS", "sent")
    # ... held until the retry's time, so the tick does not take it for a lost task meanwhile
    assert retry_spy.retries == [
        (60, "pending", "retrying: gateway timeout", T0 + datetime.timedelta(seconds=60))
    ]
    assert [(name, type(exc), str(exc)) for name, exc in retry_spy.raised] == [
        ("Retry", TransientProviderError, "gateway timeout")
    ]
    assert stub.calls == [("+46701111111", f"reminder-{queued.pk}", "sending")] * 2
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.provider, queued.provider_reference, queued.outcome) == (
        "sent", 2, "stub", "stub-2", "",
    )  # fmt: skip


def test_a_provider_that_keeps_failing_is_tried_six_times_then_the_channel_fails(
    queued: Reminder, retry_spy: RetrySpy, no_jitter: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = _with_sms(monkeypatch, [TransientProviderError("gateway timeout")])
    result = reminder_send.apply(args=[queued.pk])
    # the first try and max_retries (5) retries, with growing backoff; then no SMS is left and no e-mail known
    assert result.get() == "failed after retries"
    assert len(stub.calls) == 6
    assert [countdown for countdown, *_row in retry_spy.retries] == [60, 120, 240, 480, 960]
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.channels_tried, queued.outcome) == (
        "failed", 6, ["sms"], "sms failed: gave up: gateway timeout",
    )  # fmt: skip


def test_a_permanent_error_is_not_retried_and_fails_the_channel(
    queued: Reminder, retry_spy: RetrySpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = _with_sms(monkeypatch, [PermanentProviderError("number barred")])
    result = reminder_send.apply(args=[queued.pk])
    assert result.get() == "channel failed"
    assert (len(stub.calls), retry_spy.retries) == (1, [])
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.outcome) == ("failed", 1, "sms failed: number barred")


def test_a_permanent_sms_error_falls_back_to_email_for_someone_with_an_address(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText,
    retry_spy: RetrySpy, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    noor = person(site_a, fatima_user, consent_text, phone="+46704444444", email="noor@example.org")
    invitation = reminder_of(noor, wave, "invitation")
    claim(T0)
    _with_sms(monkeypatch, [PermanentProviderError("number barred")])
    assert reminder_send.apply(args=[invitation.pk]).get() == "channel failed"
    invitation.refresh_from_db()
    assert (invitation.status, invitation.channel, invitation.due_at) == ("pending", "email", T0)
    # the next tick sends the e-mail (through Django's e-mail backend)
    assert claim(T0) == [invitation.pk]
    assert reminder_send.apply(args=[invitation.pk]).get() == "sent"
    invitation.refresh_from_db()
    assert (invitation.status, invitation.channel, invitation.attempts) == ("sent", "email", 2)
    assert [(message.to, message.subject) for message in mail.outbox] == [(["noor@example.org"], "قبل سفرك")]
    assert retry_spy.retries == []


def test_a_transient_error_after_which_the_message_may_have_gone_out_is_never_retried(
    queued: Reminder, retry_spy: RetrySpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = _with_sms(monkeypatch, [TransientProviderError("upstream 502", may_have_been_sent=True)])
    result = reminder_send.apply(args=[queued.pk])
    assert result.get() == "outcome unknown"
    assert (len(stub.calls), retry_spy.retries) == (1, [])
    queued.refresh_from_db()
    assert (queued.status, queued.outcome, queued.sent_at) == (
        "failed",
        "outcome unknown, not resent: upstream 502",
        None,
    )
    assert claim(T0 + datetime.timedelta(hours=1)) == []


def test_a_task_for_a_reminder_that_was_not_handed_out_sends_nothing(
    clock: Clock, wave: Wave, amira_p: Participant, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = _with_sms(monkeypatch, [None])
    invitation = reminder_of(amira_p, wave, "invitation")  # due, pending, never handed out
    assert reminder_send.apply(args=[invitation.pk]).get() == "nothing to send"
    assert stub.calls == []


def test_a_duplicate_task_for_the_same_reminder_sends_once(
    queued: Reminder, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = _with_sms(monkeypatch, [None])
    assert [reminder_send.apply(args=[queued.pk]).get() for _ in range(2)] == ["sent", "nothing to send"]
    assert len(stub.calls) == 1


def test_the_console_provider_sends_in_the_test_settings(queued: Reminder) -> None:
    assert reminder_send.apply(args=[queued.pk]).get() == "sent"
    queued.refresh_from_db()
    assert (queued.status, queued.provider, queued.channel, queued.sent_at) == ("sent", "console", "sms", T0)
    assert queued.provider_reference.startswith("console-")


def test_an_sms_provider_with_delivery_reports_gets_this_reminders_callback_url(
    queued: Reminder, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = "https://panel.example.org"
    stub = _with_sms(monkeypatch, [None], name="elks46")
    reminder_send.apply(args=[queued.pk])
    (message,) = stub.messages
    assert message.status_callback_url == f"https://panel.example.org/api/v1/webhooks/elks46/{queued.pk}/"
    assert message.idempotency_key == f"reminder-{queued.pk}"


# --- reminders_tick -----------------------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> dict[str, mock.Mock]:
    """reminders_dispatch.delay and reminders_tick.delay, replaced by mocks (nothing reaches the broker)."""
    sends, ticks = mock.Mock(name="reminders_dispatch.delay"), mock.Mock(name="reminders_tick.delay")
    monkeypatch.setattr(_task(reminders_dispatch), "delay", sends)
    monkeypatch.setattr(_task(reminders_tick), "delay", ticks)
    return {"send": sends, "tick": ticks}


@pytest.fixture
def three_due(clock: Clock, wave: Wave, amira_p: Participant) -> list[int]:
    """Amira's invitation and two of her reminders are due, a minute apart."""
    ids = [
        reminder_of(amira_p, wave, "invitation").pk,
        reminder_of(amira_p, wave, "reminder", 1).pk,
        reminder_of(amira_p, wave, "reminder", 2).pk,
    ]
    for minutes, pk in enumerate(ids):
        Reminder.objects.filter(pk=pk).update(due_at=T0 - datetime.timedelta(minutes=10 - minutes))
    return ids


def test_the_tick_enqueues_exactly_the_claimed_reminders_and_only_after_commit(
    three_due: list[int], enqueued: dict[str, mock.Mock],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        claimed = reminders_tick(limit=10)
        # nothing is enqueued while the claim is not committed
        assert enqueued["send"].call_count == 0
    assert claimed == 3
    for callback in callbacks:
        callback()
    assert enqueued["send"].call_args_list == [mock.call(three_due)]
    assert enqueued["tick"].call_count == 0
    # the rows themselves are not written: they stay pending, handed out by the claim
    assert list(
        Reminder.objects.filter(pk__in=three_due).values_list("status", flat=True).order_by().distinct()
    ) == ["pending"]
    assert reminders.reminders_handed_out(reminder_ids=three_due, now=T0) == set(three_due)
    assert list(ReminderClaim.objects.values_list("claimed_at", "reminder_ids")) == [(T0, three_due)]


def test_the_tick_enqueues_the_claim_in_chunks(
    three_due: list[int], enqueued: dict[str, mock.Mock], monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:  # fmt: skip
    monkeypatch.setattr(tasks, "ENQUEUE_CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_tick(limit=10) == 3
    assert enqueued["send"].call_args_list == [mock.call(three_due[:2]), mock.call(three_due[2:])]


def test_the_dispatch_queues_one_send_task_per_reminder_over_one_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = mock.Mock(name="reminder_send.apply_async")
    monkeypatch.setattr(_task(reminder_send), "apply_async", sent)
    assert reminders_dispatch([7, 3, 9]) == 3
    assert [call.args for call in sent.call_args_list] == [((7,),), ((3,),), ((9,),)]
    assert len({id(call.kwargs["producer"]) for call in sent.call_args_list}) == 1


def test_a_full_batch_requeues_the_tick_for_the_rest(
    three_due: list[int], enqueued: dict[str, mock.Mock],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_tick(limit=2) == 2
    assert enqueued["send"].call_args_list == [mock.call(three_due[:2])]
    # the continuation skips the outage recovery and starts after the batch's last (due_at, id)
    second_due_at = T0 - datetime.timedelta(minutes=9)
    assert enqueued["tick"].call_args_list == [mock.call(2, False, second_due_at.isoformat(), three_due[1])]
    # the re-queued tick takes the rest, and is not re-queued again
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_tick(*enqueued["tick"].call_args.args) == 1
    assert enqueued["send"].call_args_list[-1] == mock.call(three_due[2:])
    assert enqueued["tick"].call_count == 1


def test_a_tick_with_nothing_due_enqueues_nothing(
    db: None,
    clock: Clock,
    enqueued: dict[str, mock.Mock],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert reminders_tick() == 0
    assert (callbacks, enqueued["send"].call_count, enqueued["tick"].call_count) == ([], 0, 0)


# --- schedules_advance --------------------------------------------------------------------------------------


def test_schedules_advance_opens_windows_whose_time_came(
    clock: Clock, study: Study, amira_p: Participant
) -> None:
    later = make_wave(study, "later", anchor="enrollment", offset_days=5, window_days=10)
    assert schedule_of(amira_p, later).status == "scheduled"
    clock.move_to(utc(2027, 1, 14, 21))  # midnight in Nairobi, 15 January
    assert schedules_advance() == 1
    assert schedule_of(amira_p, later).status == "open"
    assert schedules_advance() == 0


def test_schedules_advance_marks_ended_windows_missed_cancels_their_reminders_and_drops_drafts(
    clock: Clock, wave: Wave, study_key: object, amira_p: Participant
) -> None:
    # given amira answered one page and never completed
    response_services.page_submit(
        participant=amira_p, wave_key=wave.key, submission_id=uuid.uuid4(), section="family",
        answers={"Q1": "1", "Q49": 4},
    )  # fmt: skip
    assert Response.objects.filter(participant=amira_p, status="in_progress").count() == 1
    # when the window has closed
    clock.move_to(utc(2027, 3, 10, 21))
    assert schedules_advance() == 1
    # then
    assert schedule_of(amira_p, wave).status == "missed"
    assert Response.objects.filter(participant=amira_p).count() == 0
    assert set(Reminder.objects.filter(schedule__participant=amira_p).values_list("status", "outcome")) == {
        ("cancelled", "window closed")
    }


def test_schedules_advance_requeues_itself_when_its_batch_is_full(
    clock: Clock, study: Study, amira_p: Participant, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:  # fmt: skip
    for key in ("later", "later-too"):
        make_wave(study, key, anchor="enrollment", offset_days=5, window_days=10)
    ticks = mock.Mock(name="schedules_advance.delay")
    monkeypatch.setattr(_task(schedules_advance), "delay", ticks)
    clock.move_to(utc(2027, 1, 15, 9))
    with django_capture_on_commit_callbacks(execute=True):
        assert schedules_advance(limit=1) == 1
    assert ticks.call_args_list == [mock.call(1)]


def test_the_wave_policy_is_used_by_the_task_too(
    clock: Clock, wave: Wave, amira_p: Participant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # quiet hours of the wave's own policy: 11:00-13:00 (it is 12:00 in Nairobi)
    policy_create(wave, quiet_hours_start=datetime.time(11, 0), quiet_hours_end=datetime.time(13, 0))
    invitation = reminder_of(amira_p, wave, "invitation")
    claim(T0)
    stub = _with_sms(monkeypatch, [None])
    assert reminder_send.apply(args=[invitation.pk]).get() == "nothing to send"
    invitation.refresh_from_db()
    assert (invitation.status, invitation.due_at, stub.calls) == ("pending", utc(2027, 1, 11, 10), [])


def test_changing_the_preferred_channel_to_email_sends_the_next_reminder_by_email(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    noor = person(site_a, fatima_user, consent_text, phone="+46704444444", email="noor@example.org")
    contacts.contact_set(participant=noor, preferred_channel="email", by=fatima_user)
    invitation = reminder_of(noor, wave, "invitation")
    claim(T0)
    assert reminder_send.apply(args=[invitation.pk]).get() == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["noor@example.org"]


def test_a_reminder_waiting_for_its_retry_is_not_reclaimed_by_the_tick(
    clock: Clock,
    queued: Reminder,
    no_jitter: None,
    enqueued: dict[str, mock.Mock],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given the provider failed transiently on the first try and on retries 1-4, as reminder_send records it
    at = T0
    for retries in range(5):
        assert reminders.reminder_begin(reminder_id=queued.pk, now=at) is not None
        at += datetime.timedelta(seconds=backoff_seconds(retries))
        reminders.reminder_retry_later(reminder_id=queued.pk, reason="retrying: gateway timeout", retry_at=at)
    # ... so the fifth retry is due 31 minutes after the claim; 16 minutes after the fourth retry began
    assert at == T0 + datetime.timedelta(minutes=31)
    # when the tick runs 20 minutes after the claim, while that retry is still waiting
    clock.move_to(T0 + datetime.timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        reminders_tick(limit=10)
    # then it leaves the row to the retry
    assert enqueued["send"].call_count == 0
    queued.refresh_from_db()
    assert (queued.status, queued.claimed_at) == ("pending", at)


def test_a_retry_that_never_ran_is_recovered_by_the_tick(
    clock: Clock, queued: Reminder, enqueued: dict[str, mock.Mock],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:  # fmt: skip
    # given a retry was due at T0 + 8 minutes, and its message was lost with the broker
    assert reminders.reminder_begin(reminder_id=queued.pk, now=T0) is not None
    retry_at = T0 + datetime.timedelta(minutes=8)
    reminders.reminder_retry_later(
        reminder_id=queued.pk, reason="retrying: gateway timeout", retry_at=retry_at
    )
    # when the tick runs more than STUCK_AFTER after the retry's time
    clock.move_to(retry_at + reminders.STUCK_AFTER + datetime.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_tick(limit=10) == 1
    # then a fresh task is enqueued for it
    assert enqueued["send"].call_args_list == [mock.call([queued.pk])]
