"""Process management and data helpers for the end-to-end reminder tests (test_e2e_*.py).

What runs for real: a Celery worker (prefork, queues "default" and "providers") and Celery beat as
subprocesses with ``DJANGO_SETTINGS_MODULE=backend.settings.e2e``, against the pytest test database and a
real Redis; the fake 46elks HTTP server on loopback (a thread of the test process); and, where a test needs
delivery reports, pytest-django's live server.

Time: the worker's clock is the real one. Instead of moving the clock we move the data: ``travel`` shifts
every stored instant of some schedules (window, due times, claim/sending/sent times) backwards by the same
amount. Every time decision of the pipeline compares a stored instant with "now" (due_at <= now, closes_at
<= now, claimed_at < now - 15 min, sent_at >= now - 7 days, ...), so shifting the stored instants back by
``d`` is the same as moving now forward by ``d``, for exactly the rows a test is looking at.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from participants.models import ParticipantWave, Reminder, ReminderClaim
from participants.reminders.providers.elks46.fake import Fake46elks
from participants.reminders.services import reminders_handed_out

ROOT = Path(__file__).resolve().parents[3]
PYTHON = sys.executable
USERNAME = "e2e-elks-user"
PASSWORD = "e2e-elks-password"  # noqa: S105 - a fake gateway's password
WEBHOOK_SECRET = "e2e-elks-webhook-secret"  # noqa: S105
SENDER = "Panel"

T = TypeVar("T")

# The worker and beat are separate processes: they need a database server and a broker they can reach.
needs_postgres_and_redis = pytest.mark.skipif(
    not str(settings.CELERY_BROKER_URL).startswith("redis://")
    or "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="end-to-end tests need PostgreSQL and Redis: run them under scripts/testenv.sh",
)


# --- waiting ------------------------------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            details = explain() if explain else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{details}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the fake gateway ----------------------------------------------------------------------------------------


class CountingFake46elks(Fake46elks):
    """Fake46elks that also records every request the moment it arrives, before any ``delay_next``.

    ``messages`` holds what the gateway accepted (recorded after the delay, like a gateway that took the
    message and then was slow to answer); ``received`` shows a request is in flight, which is when a test
    kills the worker.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._received: list[dict[str, str]] = []

    def answer(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, str, bytes]:
        with self._lock:
            self._received.append(dict(form))
        return super().answer(path, authorization, form)

    @property
    def received(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(form) for form in self._received]


def reminder_id_of(message: dict[str, str]) -> int:
    """The reminder a message at the fake belongs to: its delivery report URL names it, twice."""
    url = urlsplit(message["whendelivered"])
    from_path = int(url.path.rstrip("/").rsplit("/", 1)[1])
    attempt = parse_qs(url.query)["attempt"][0]
    assert attempt == f"reminder-{from_path}", message["whendelivered"]
    return from_path


def per_reminder(messages: Iterable[dict[str, str]]) -> Counter[int]:
    return Counter(reminder_id_of(message) for message in messages)


# --- processes ----------------------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.popen.pid, signum)  # started in its own session: the group is the whole tree
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children), like a machine dying."""
        self.signal_group(signal.SIGKILL)
        if self.popen.returncode is None:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM to the main process only: it lets its pool finish), then SIGKILL."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(timeout=10)
        # Pool children of a killed worker may outlive it briefly; make sure none is left.
        self.signal_group(signal.SIGKILL)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []


def spawn(name: str, argv: list[str], *, env: dict[str, str], log: Path) -> Process:
    with log.open("ab") as out:
        popen = subprocess.Popen(  # noqa: S603 - fixed argv built by the tests
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name=name, popen=popen, log=log)


class RedisServer:
    """A private redis-server on a fixed loopback port, that a test can stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or "redis-server"
        self.port = free_port()
        self.directory = directory
        self.process: Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> RedisServer:
        self.starts += 1
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.directory)]  # fmt: skip
        self.process = spawn(
            f"redis-{self.starts}",
            argv,
            env=dict(os.environ),
            log=self.directory / f"redis-{self.starts}.log",
        )
        wait_until(self.ping, timeout=15, what=f"redis on port {self.port}", explain=self.process.tail)
        return self

    def crash(self) -> None:
        """SIGKILL: Redis is gone, with everything it held (no persistence)."""
        if self.process is not None:
            self.process.kill()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=5)
            self.process = None


def database_url() -> str:
    """The test database (pytest-django's test_...) as a URL for the subprocesses."""
    database = connection.settings_dict
    user = database.get("USER") or ""
    password = database.get("PASSWORD") or ""
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{database['NAME']}"


@dataclass
class Stack:
    """Celery worker(s) and beat for one test, against one broker, the fake 46elks and the test database."""

    directory: Path
    broker_url: str
    elks: CountingFake46elks
    public_base_url: str = "http://127.0.0.1:9"
    workers: list[Process] = field(default_factory=list)
    beat: Process | None = None
    others: list[Process] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CELERY_", "ELKS46_", "PYTEST_"))
        }
        environment.update(
            DJANGO_SETTINGS_MODULE="backend.settings.e2e",
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=self.broker_url,
            ELKS46_BASE_URL=self.elks.base_url,
            ELKS46_API_USERNAME=USERNAME,
            ELKS46_API_PASSWORD=PASSWORD,
            ELKS46_WEBHOOK_SECRET=WEBHOOK_SECRET,
            ELKS46_FROM=SENDER,
            PUBLIC_BASE_URL=self.public_base_url,
            PROVIDER_TIMEOUT_SECONDS="10",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        return environment

    def spawn_worker(self, queues: str = "default,providers") -> Process:
        """A worker on ``queues`` ("default" runs the ticks, "providers" the calls to the gateway), not waited for."""
        number = len(self.workers) + 1
        node = f"e2e{number}-{uuid.uuid4().hex[:6]}@localhost"
        argv = [PYTHON, "-m", "celery", "-A", "backend", "worker", "-Q", queues, "-c", "2",
                "--pool", "prefork", "-l", "info", "-n", node, "--without-gossip", "--without-mingle",
                "--without-heartbeat"]  # fmt: skip
        worker = spawn(f"worker-{number}", argv, env=self.env(), log=self.directory / f"worker-{number}.log")
        self.workers.append(worker)
        return worker

    def wait_ready(self, worker: Process) -> Process:
        wait_until(
            lambda: " ready." in worker.text() or not worker.alive(),
            timeout=90,
            interval=0.2,
            what=f"{worker.name} to be ready",
            explain=self.explain,
        )
        assert worker.alive(), f"{worker.name} exited\n{self.explain()}"
        return worker

    def start_worker(self, queues: str = "default,providers") -> Process:
        return self.wait_ready(self.spawn_worker(queues))

    def start_beat(self) -> Process:
        argv = [PYTHON, "-m", "celery", "-A", "backend", "beat", "-l", "info",
                "-s", str(self.directory / "beat-schedule")]  # fmt: skip
        self.beat = spawn("beat", argv, env=self.env(), log=self.directory / "beat.log")
        return self.beat

    def start(self, queues: str = "default,providers") -> Stack:
        worker = self.spawn_worker(queues)
        self.start_beat()  # both start up at the same time
        self.wait_ready(worker)
        self.wait_ticks(1, timeout=90)  # beat -> Redis -> worker -> database works end to end
        return self

    def stop(self) -> None:
        """End of the test: SIGKILL everything (nothing to finish cleanly; the next test purges the broker)."""
        for process in [*([self.beat] if self.beat else []), *self.workers, *self.others]:
            process.kill()

    # --- observing ----------------------------------------------------------------------------------------

    def ticks(self) -> int:
        """Dispatch ticks that ran to the end, in all workers so far."""
        marker = "participants.tasks.reminders_tick["
        return sum(
            1
            for worker in self.workers
            for line in worker.text().splitlines()
            if marker in line and "succeeded" in line
        )

    def wait_ticks(self, count: int, *, timeout: float = 45.0) -> None:
        """Wait until ``count`` more dispatch ticks ran: "a few ticks later", without a blind sleep."""
        target = self.ticks() + count
        wait_until(
            lambda: self.ticks() >= target,
            timeout=timeout,
            what=f"{count} reminder ticks",
            explain=self.explain,
        )

    def explain(self) -> str:
        parts = []
        for process in [*self.workers, *([self.beat] if self.beat else []), *self.others]:
            state = "running" if process.alive() else f"exited {process.popen.returncode}"
            parts.append(f"--- {process.name} ({state}), last lines of {process.log}:\n{process.tail()}")
        parts.append(
            f"--- fake 46elks: {len(self.elks.received)} received, {len(self.elks.messages)} accepted"
        )
        rows = Reminder.objects.order_by("pk").values_list("pk", "kind", "sequence", "status", "outcome")
        parts.append("--- reminders: " + "; ".join(" ".join(str(value) for value in row) for row in rows))
        return "\n".join(parts)


def queue_length(url: str, queue: str) -> int:
    """Messages waiting in a Celery queue on Redis (kombu keeps each queue as a Redis list)."""
    return int(redis.Redis.from_url(url).llen(queue))


def purge_broker(url: str) -> None:
    """Empty the broker's database: no task left over from an earlier test reaches this test's worker."""
    redis.Redis.from_url(url).flushdb()


# --- moving time ------------------------------------------------------------------------------------------


def travel(schedules: Iterable[ParticipantWave] | Any, by: datetime.timedelta) -> None:
    """Move "now" forward by ``by`` for these schedules: every stored instant of them moves back by ``by``."""
    pks = [schedule.pk for schedule in schedules]
    with transaction.atomic():
        ParticipantWave.objects.filter(pk__in=pks).update(
            opens_at=F("opens_at") - by, closes_at=F("closes_at") - by, completed_at=F("completed_at") - by
        )
        reminder_pks = set(Reminder.objects.filter(schedule_id__in=pks).values_list("pk", flat=True))
        for claim in ReminderClaim.objects.all():
            if reminder_pks & set(claim.reminder_ids):
                ReminderClaim.objects.filter(pk=claim.pk).update(claimed_at=F("claimed_at") - by)
        Reminder.objects.filter(schedule_id__in=pks).update(
            due_at=F("due_at") - by,
            claimed_at=F("claimed_at") - by,
            sending_started_at=F("sending_started_at") - by,
            sent_at=F("sent_at") - by,
            delivered_at=F("delivered_at") - by,
        )


def handed_out(ids: Iterable[int]) -> set[int]:
    """The reminders handed out to a worker and not taken yet (claimed, their send task queued or lost)."""
    return reminders_handed_out(reminder_ids=list(ids), now=timezone.now())


def statuses(ids: Iterable[int]) -> dict[int, str]:
    return dict(Reminder.objects.filter(pk__in=list(ids)).values_list("pk", "status"))


def settle(
    stack: Stack,
    *,
    expect_sent: set[int],
    expect_cancelled: Iterable[int] = (),
    timeout: float = 60.0,
    quiet_for: float | None = None,
) -> list[int]:
    """Wait until every ``expect_sent`` reminder was sent and every ``expect_cancelled`` one cancelled.

    A reminder handed out whose task Redis lost is only handed out again after 15 minutes (the claim's
    LEASE). With ``quiet_for``, rows that stay handed out with no progress for that many seconds get their
    fifteen minutes (their claims' claimed_at moves back 16 minutes) and the wait goes on. Returns the ids that needed it.
    """
    done = {Reminder.Status.SENT, Reminder.Status.DELIVERED}
    expect_cancelled = set(expect_cancelled)
    recovered: list[int] = []
    deadline = time.monotonic() + timeout
    last_progress, last_state = time.monotonic(), None
    while True:
        state = statuses(expect_sent | expect_cancelled)
        if all(state.get(pk) in done for pk in expect_sent) and all(
            state.get(pk) == Reminder.Status.CANCELLED for pk in expect_cancelled
        ):
            return recovered
        if state != last_state:
            last_state, last_progress = state, time.monotonic()
        stuck = sorted(handed_out(state))
        if stuck and quiet_for is not None and time.monotonic() - last_progress > quiet_for:
            for claim in ReminderClaim.objects.all():
                if set(stuck) & set(claim.reminder_ids):
                    ReminderClaim.objects.filter(pk=claim.pk).update(
                        claimed_at=F("claimed_at") - datetime.timedelta(minutes=16)
                    )
            recovered += stuck
            last_progress = time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out: expected sent {sorted(expect_sent)}, cancelled {sorted(expect_cancelled)}, "
                f"have {state}\n{stack.explain()}"
            )
        time.sleep(0.25)


def in_threads(*targets: Callable[[], T]) -> list[T]:
    """Run the callables at the same moment (a barrier), each in its own thread with its own connection."""
    barrier = threading.Barrier(len(targets))
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = target()
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, target)) for index, target in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


# --- data ---------------------------------------------------------------------------------------------------


def enroll_person(
    site: Any, staff: Any, consent_text: Any, *, phone: str, enrolled_on: datetime.date, **extra: Any
) -> Any:
    """Enroll through the service (as tests/conftest.py's ``enroll`` does), Arabic-speaking by default."""
    from participants.models import ConsentRecord
    from participants.services import register

    fields: dict[str, Any] = {
        "preferred_language": "ar", "country_of_origin": "SY", "country_of_departure": site.country,
        "birth_year": 1990, "enrolled_on": enrolled_on, "name": "Test Person", "phone": phone,
        "consent": register.ConsentInput(
            consent_text=consent_text, language="ar", method=ConsentRecord.Method.READ_ALOUD, witnessed_by=staff
        ),
    }  # fmt: skip
    fields.update(extra)
    return register.participant_enroll(site=site, by=staff, **fields).participant


def policy_without_quiet_hours(wave: Any, **fields: Any) -> Any:
    """The wave's policy with no quiet hours (start == end: never quiet), so a test passes at any hour."""
    from participants.models import ReminderPolicy

    values: dict[str, Any] = {
        "quiet_hours_start": datetime.time(0, 0), "quiet_hours_end": datetime.time(0, 0), "max_per_week": 50,
    }  # fmt: skip
    values.update(fields)
    return ReminderPolicy.objects.create(wave=wave, **values)
