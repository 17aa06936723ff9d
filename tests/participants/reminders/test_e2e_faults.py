"""Faults, end to end: real Celery worker and beat, real Redis, the fake 46elks on loopback, PostgreSQL.

What each test breaks, and what must hold (DESIGN.md, "Reliability model": the database is the source of
truth, Celery only executes; every task is idempotent):

- two dispatch ticks at the same moment (plus beat's own, plus every send task queued a second time):
  each of 30 messages reaches the gateway exactly once;
- Redis crashes (no persistence: the send tasks it held are lost) after some reminders were claimed, while
  others fall due and one participant's window closes; Redis comes back empty: every reminder is sent
  exactly once (the lost claims after the 15 minutes of STUCK_AFTER), the closed window's are cancelled;
- every worker is down for an hour (claimed send tasks wait in Redis, beat keeps queueing ticks), then the
  workers come back, the tick worker first: it takes the hour-old claims back and claims them again, so each
  has two send tasks; every reminder is still sent exactly once, the closed window's cancelled;
- a worker dies (SIGKILL of its whole process group) while the gateway holds its request: the SMS went out
  once; the reminder is never asked for again (46elks has no idempotency key), is marked "outcome unknown"
  after 15 minutes, and the gateway's delivery report (to the live server) settles it as delivered;
- only the pool processes die mid-call: Celery redelivers the task at once (acks_late +
  reject_on_worker_lost), and the second run sends nothing;
- the weekly limit with two worker processes: concurrent starts for one participant queue on its row.

Choices. Workers run on both queues unless a test needs the send tasks to wait in Redis: then a worker runs
only "default" (the ticks) and nothing consumes "providers" until the test says so. Redis for the crash test is
a private redis-server (REDIS_SERVER_BIN) on a fixed port, so it can come back at the same address; the other
tests use the testenv Redis, which the test process publishes to as well (reminders_tick called directly).
Time: the worker reads the real clock, so the tests move the data instead (e2e_support.travel shifts every
stored instant of the schedules back, which every decision sees as "now" moving forward). Quiet hours are off
in the waves' policies (start == end) so the tests pass at any hour. A gateway that is slow to answer
(Fake46elks.delay_next) keeps a request in flight long enough to kill a worker during it; the fake's subclass
in e2e_support also records requests on arrival, so the test knows when the call is under way.
"""

from __future__ import annotations

import datetime
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from e2e_support import (
    PASSWORD,
    USERNAME,
    WEBHOOK_SECRET,
    CountingFake46elks,
    RedisServer,
    Stack,
    enroll_person,
    handed_out,
    in_threads,
    needs_postgres_and_redis,
    per_reminder,
    policy_without_quiet_hours,
    purge_broker,
    queue_length,
    settle,
    statuses,
    travel,
    wait_until,
)

from participants import tasks
from participants.models import ParticipantWave, Reminder, ReminderClaim
from surveys import services as survey_services

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.celery_worker,
    needs_postgres_and_redis,
]

DAY = datetime.timedelta(days=1)


@pytest.fixture
def elks() -> Iterator[CountingFake46elks]:
    with CountingFake46elks(username=USERNAME, password=PASSWORD) as fake:
        yield fake


@pytest.fixture
def start_stack(tmp_path: Path, elks: CountingFake46elks) -> Iterator[Callable[..., Stack]]:
    """Start worker + beat; by default on the testenv Redis (which the test process publishes to as well)."""
    stacks: list[Stack] = []

    def start(
        *,
        broker_url: str | None = None,
        public_base_url: str = "http://127.0.0.1:9",
        queues: str = "default,providers",
    ) -> Stack:
        broker = broker_url or django_settings.CELERY_BROKER_URL
        assert broker.startswith("redis://"), "run under scripts/testenv.sh (REDIS_URL)"
        purge_broker(broker)
        stack = Stack(directory=tmp_path, broker_url=broker, elks=elks, public_base_url=public_base_url)
        stacks.append(stack)
        return stack.start(queues)

    yield start
    for stack in stacks:
        stack.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server.start()
    server.stop()


@pytest.fixture
def panel(
    study: Any, published: Any, site_a: Any, fatima_user: Any, consent_text: Any
) -> Callable[..., list[ParticipantWave]]:
    """``panel(count, reminder_days)``: participants enrolled today for a wave that opens in 10 days.

    Nothing is due yet; a test makes things due with ``travel``. Each schedule has an invitation and one
    reminder per entry of ``reminder_days``.
    """
    made = 0

    def make(count: int, reminder_days: list[int], max_per_week: int = 50) -> list[ParticipantWave]:
        nonlocal made
        made += 1
        wave = survey_services.wave_create(
            study=study, key=f"in-ten-days-{made}", questionnaire_version=published, anchor="enrollment",
            offset_days=10, window_days=30, name={"en": "Ten days on", "sv": "Tio dagar", "ar": "بعد عشرة أيام"},
        )  # fmt: skip
        policy_without_quiet_hours(
            wave, reminder_days=reminder_days, last_chance_days=None, max_per_week=max_per_week
        )
        people = [
            enroll_person(
                site_a,
                fatima_user,
                consent_text,
                phone=f"+4670{made}{index:06d}",
                enrolled_on=timezone.localdate(),
            )
            for index in range(count)
        ]
        schedules = list(ParticipantWave.objects.filter(participant__in=people, wave=wave))
        assert len(schedules) == count
        assert not Reminder.objects.filter(schedule__in=schedules, due_at__lte=timezone.now()).exists()
        return schedules

    return make


def reminder_ids(schedules: list[ParticipantWave]) -> set[int]:
    return set(Reminder.objects.filter(schedule__in=schedules).values_list("pk", flat=True))


def once_each(ids: set[int]) -> Counter[int]:
    return Counter(dict.fromkeys(ids, 1))


def worker_lost_broker(stack: Stack) -> bool:
    return any(
        "Cannot connect to redis" in text
        or "Connection to broker lost" in text
        or "Error while reading" in text
        for text in (worker.text() for worker in stack.workers)
    )


# --- the dispatch twice at once ------------------------------------------------------------------------------


def test_two_dispatch_ticks_at_once_send_each_message_exactly_once(
    start_stack: Callable[..., Stack], elks: CountingFake46elks, panel: Callable[..., list[ParticipantWave]]
) -> None:
    # given: 30 reminders (10 participants x invitation + reminders on days 1 and 2), none due yet
    schedules = panel(10, [1, 2])
    ids = reminder_ids(schedules)
    assert len(ids) == 30
    stack = start_stack()

    # when: 13 days pass, all 30 fall due, and two ticks claim them at the same moment (beat ticks as well),
    # each in batches of 7 that chain further ticks on the worker; then every send task is queued a second time
    travel(schedules, by=13 * DAY)
    claimed = in_threads(lambda: tasks.reminders_tick(limit=7), lambda: tasks.reminders_tick(limit=7))
    for reminder_id in ids:
        tasks.reminder_send.delay(reminder_id)

    # then: every reminder reaches the gateway exactly once
    settle(stack, expect_sent=ids)
    stack.wait_ticks(3)
    assert per_reminder(elks.messages) == once_each(ids), stack.explain()
    assert len(elks.received) == len(ids)
    assert sum(claimed) <= len(ids)
    sent = Reminder.objects.filter(pk__in=ids)
    assert {row.provider_reference for row in sent} == {message["id"] for message in elks.messages}
    assert {row.attempts for row in sent} == {1}


# --- Redis or every worker down while reminders fall due ------------------------------------------------------


def test_redis_down_while_reminders_fall_due_then_back_sends_each_once_and_none_late(
    start_stack: Callable[..., Stack],
    elks: CountingFake46elks,
    panel: Callable[..., list[ParticipantWave]],
    redis_server: RedisServer,
) -> None:
    # given: three groups of participants (invitation + day-1 reminder each), nothing due yet: the first will
    # be claimed before Redis goes down, the second falls due while it is down, the third's window closes then
    claimed_before, falling_due, late = panel(3, [1]), panel(3, [1]), panel(1, [1])
    lost, due, late_ids = reminder_ids(claimed_before), reminder_ids(falling_due), reminder_ids(late)
    # Only a worker on "default" (ticks) at first: the send tasks it queues wait in Redis, on "providers".
    stack = start_stack(broker_url=redis_server.url, queues="default")
    travel(claimed_before, by=12 * DAY)
    wait_until(
        lambda: handed_out(lost) == lost and queue_length(redis_server.url, "providers") == len(lost),
        what="the first group to be claimed, its send tasks in Redis",
        explain=stack.explain,
    )

    # when: Redis crashes, losing the queued send tasks (no persistence) ...
    redis_server.crash()
    wait_until(
        lambda: worker_lost_broker(stack), timeout=30, what="the worker to lose Redis", explain=stack.explain
    )
    # ... meanwhile the second group falls due (12 days pass), and the third group's whole window passes
    travel(falling_due, by=12 * DAY)
    travel(late, by=45 * DAY)
    time.sleep(2)  # beat and workers cannot reach each other: nothing can happen
    assert elks.received == []
    assert set(statuses(due | late_ids).values()) == {Reminder.Status.PENDING}

    # when: Redis comes back on the same port, empty, and a worker for the gateway calls starts
    redis_server.start()
    stack.start_worker()

    # then: every reminder is sent exactly once, the claims whose tasks were lost only after 15 minutes,
    # and nothing of the closed window is sent late
    recovered = settle(stack, expect_sent=lost | due, expect_cancelled=late_ids, timeout=90, quiet_for=4)
    stack.wait_ticks(3)
    assert per_reminder(elks.messages) == once_each(lost | due), stack.explain()
    assert len(elks.received) == len(lost | due)
    assert lost <= set(recovered)
    assert all("window closed" in outcome for outcome in outcomes(late_ids)), outcomes(late_ids)


def test_every_worker_down_for_an_hour_then_back_sends_each_once_and_none_late(
    start_stack: Callable[..., Stack], elks: CountingFake46elks, panel: Callable[..., list[ParticipantWave]]
) -> None:
    # given: as above; the first group is claimed by a worker on "default" only, their send tasks wait in Redis
    claimed_before, falling_due, late = panel(3, [1]), panel(3, [1]), panel(1, [1])
    claimed, due, late_ids = reminder_ids(claimed_before), reminder_ids(falling_due), reminder_ids(late)
    stack = start_stack(queues="default")
    travel(claimed_before, by=12 * DAY)
    wait_until(
        lambda: (
            handed_out(claimed) == claimed and queue_length(stack.broker_url, "providers") == len(claimed)
        ),
        what="the first group to be claimed, its send tasks in Redis",
        explain=stack.explain,
    )

    # when: every worker stops, and an hour passes, in which the second group falls due and the third group's
    # window closes; beat goes on queueing ticks that nobody runs
    stack.workers[0].stop()
    travel(claimed_before, by=datetime.timedelta(hours=1))
    travel(falling_due, by=12 * DAY)
    travel(late, by=45 * DAY)
    assert stack.beat is not None
    beat = stack.beat
    sent_ticks = beat.text().count("reminders-tick")
    wait_until(
        lambda: beat.text().count("reminders-tick") >= sent_ticks + 3,
        timeout=30,
        what="beat to queue ticks nobody runs",
        explain=stack.explain,
    )
    assert elks.received == []
    assert set(statuses(claimed | due | late_ids).values()) == {Reminder.Status.PENDING}
    assert handed_out(claimed | due | late_ids) == set()  # the claims of an hour ago have lapsed

    # when: the workers come back, the one running ticks first: it takes back the claims of an hour ago and
    # claims them again, so each of those reminders now has two send tasks waiting
    stack.start_worker("default")
    first_claim_at = timezone.now() - datetime.timedelta(minutes=5)
    wait_until(
        lambda: claimed <= {
            pk for claim in ReminderClaim.objects.filter(claimed_at__gt=first_claim_at) for pk in claim.reminder_ids
        },
        what="the claims of an hour ago to be renewed",
        explain=stack.explain,
    )  # fmt: skip
    gateway_worker = stack.start_worker("providers")

    # then: every reminder is sent exactly once; each duplicate task sent nothing; nothing is sent late
    settle(stack, expect_sent=claimed | due, expect_cancelled=late_ids)  # no help: the code's own recovery
    stack.wait_ticks(3)
    wait_until(
        lambda: gateway_worker.text().count("'nothing to send'") >= len(claimed),
        what="the duplicate send tasks to run",
        explain=stack.explain,
    )
    assert per_reminder(elks.messages) == once_each(claimed | due), stack.explain()
    assert len(elks.received) == len(claimed | due)
    assert set(Reminder.objects.filter(pk__in=claimed | due).values_list("attempts", flat=True)) == {1}
    assert all("window closed" in outcome for outcome in outcomes(late_ids)), outcomes(late_ids)


def outcomes(ids: set[int]) -> list[str]:
    return list(Reminder.objects.filter(pk__in=ids).values_list("outcome", flat=True))


# --- a worker killed between the provider call and the status update ------------------------------------------


def _in_flight(elks: CountingFake46elks, reminder_id: int) -> bool:
    return any(
        form.get("whendelivered", "").find(f"attempt=reminder-{reminder_id}&") > 0 for form in elks.received
    )


def test_worker_killed_during_the_provider_call_never_sends_a_second_sms(
    start_stack: Callable[..., Stack],
    elks: CountingFake46elks,
    panel: Callable[..., list[ParticipantWave]],
    live_server: Any,
    settings: Any,
) -> None:
    # given: one invitation, a gateway that holds the next request for 6 seconds before taking it
    settings.ELKS46_WEBHOOK_SECRET = WEBHOOK_SECRET  # the live server (this process) checks the reports
    schedules = panel(1, [])
    (reminder_id,) = reminder_ids(schedules)
    stack = start_stack(public_base_url=live_server.url)
    elks.delay_next(6)

    # when: it falls due, the worker calls the gateway, and the machine dies while the gateway holds the call
    travel(schedules, by=11 * DAY)
    wait_until(lambda: _in_flight(elks, reminder_id), what="the request at 46elks", explain=stack.explain)
    assert statuses([reminder_id]) == {reminder_id: Reminder.Status.SENDING}
    stack.workers[0].kill()

    # then: the gateway takes the message (the SMS goes out), but no status update was recorded
    wait_until(lambda: elks.messages, timeout=20, what="46elks to accept the message", explain=stack.explain)
    reference = elks.messages[0]["id"]

    # when: a new worker starts, and ticks run
    stack.start_worker()
    stack.wait_ticks(3)

    # then: the reminder stays "sending": it is not asked for again
    assert statuses([reminder_id]) == {reminder_id: Reminder.Status.SENDING}
    assert len(elks.received) == 1

    # when: fifteen minutes pass with it stuck in "sending"
    travel(schedules, by=datetime.timedelta(minutes=16))

    # then: it is marked failed with an unknown outcome, and still never resent
    wait_until(
        lambda: statuses([reminder_id])[reminder_id] == Reminder.Status.FAILED,
        what="the stuck reminder to be given up",
        explain=stack.explain,
    )
    stack.wait_ticks(3)
    row = Reminder.objects.get(pk=reminder_id)
    assert row.outcome.startswith("outcome unknown"), row.outcome
    assert row.attempts == 1
    assert len(elks.received) == 1

    # when: 46elks reports the delivery (to the live server, through the whendelivered URL it was given)
    report = elks.deliver(reference)

    # then: the report settles it: delivered, with the gateway's reference
    assert report.status_code == 204, report.text
    row.refresh_from_db()
    assert (row.status, row.provider_reference) == (Reminder.Status.DELIVERED, reference)
    assert row.delivered_at is not None
    assert per_reminder(elks.messages) == {reminder_id: 1}


def test_pool_process_killed_during_the_provider_call_redelivered_task_sends_nothing(
    start_stack: Callable[..., Stack], elks: CountingFake46elks, panel: Callable[..., list[ParticipantWave]]
) -> None:
    # given
    schedules = panel(1, [])
    (reminder_id,) = reminder_ids(schedules)
    stack = start_stack()
    elks.delay_next(6)
    worker = stack.workers[0]

    # when: only the pool processes die while the gateway holds the call; the main worker process survives
    travel(schedules, by=11 * DAY)
    wait_until(lambda: _in_flight(elks, reminder_id), what="the request at 46elks", explain=stack.explain)
    for child in worker.children():
        os.kill(child, signal.SIGKILL)

    # then: Celery hands the task out again (acks_late, reject_on_worker_lost), and the second run sends nothing
    wait_until(
        lambda: "nothing to send" in worker.text(), what="the redelivered task to run", explain=stack.explain
    )
    assert "WorkerLostError" in worker.text()
    wait_until(lambda: elks.messages, timeout=20, what="46elks to accept the message", explain=stack.explain)
    stack.wait_ticks(3)
    assert per_reminder(elks.messages) == {reminder_id: 1}
    assert len(elks.received) == 1
    assert statuses([reminder_id]) == {reminder_id: Reminder.Status.SENDING}


# --- the weekly limit, with two worker processes ---------------------------------------------------------------


def test_two_reminders_of_one_participant_due_at_once_respect_the_weekly_limit(
    start_stack: Callable[..., Stack], elks: CountingFake46elks, panel: Callable[..., list[ParticipantWave]]
) -> None:
    # given: at most one message a week; an invitation and a day-1 reminder; a gateway slow to answer (4 s)
    schedules = panel(1, [1], max_per_week=1)
    ids = reminder_ids(schedules)
    stack = start_stack()
    elks.delay_next(4)

    # when: both fall due at once (after an outage, or an arrival entered late)
    travel(schedules, by=12 * DAY)

    # then: one is sent; the other is postponed by a week ("postponed: weekly limit"), not sent
    def settled() -> bool:
        state = statuses(ids)
        return (
            Reminder.Status.SENT in state.values()
            and Reminder.Status.SENDING not in state.values()
            and not handed_out(ids)
        )

    wait_until(settled, what="both reminders to be settled", explain=stack.explain)
    stack.wait_ticks(2)
    assert len(elks.received) == 1, (
        f"{len(elks.received)} SMS within seconds to one participant (limit 1 a week)"
    )
    postponed = Reminder.objects.get(pk__in=ids, status=Reminder.Status.PENDING)
    assert postponed.outcome == "postponed: weekly limit"
