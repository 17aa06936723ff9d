"""Benchmark ``reminder_tick``: one dispatch tick over 10,000 due reminders among 1,000,000 schedule rows.

Data, in a database of its own (``bench_tick`` on the testenv server, migrated, dropped at the end), made with
INSERT ... SELECT generate_series: one study, one site, 10 waves; 100,000 participants x 10 waves =
1,000,000 participant-wave rows (participants_participantwave), one reminder per schedule row (1,000,000
participants_reminder rows): 10,000 pending and due (due_at in the last 6 hours), about 690,000 pending but
due in the next 60 days, the rest sent or cancelled in the past. VACUUM ANALYZE after loading.

* value: seconds for one tick to claim and enqueue all due reminders: ``participants.tasks.reminders_tick``
  (``reminders_claim_due`` with the production batch, TICK_BATCH, recording one ReminderClaim per batch,
  then ``reminders_dispatch.delay`` for each chunk of ENQUEUE_CHUNK claimed ids on commit), called again with
  the arguments it re-queued itself with (the batch's cursor) as long as a batch comes back full, as its
  self-rescheduling ``reminders_tick.delay`` would. ``reminders_dispatch.delay`` and ``reminders_tick.delay``
  are patched to recorders (nothing enqueued); after each tick the handed-out ids are checked to be exactly
  the due ids, each once. One more tick that really enqueues to Redis (kombu, the Celery broker) is reported
  as an extra, ``tick_redis_s``, and so is the workers' side of it, ``dispatch_redis_s``: running every
  chunk's ``reminders_dispatch``, which queues one ``reminder_send`` per id to Redis;
* floor: the bare query that selects the same 10,000 due rows
  (SELECT id ... WHERE status = 'pending' AND due_at <= now ORDER BY due_at), fetched, in the same run.

Each repetition deletes the claims (the 10,000 reminders are due again; VACUUM, untimed), runs the floor,
then the tick; value and floor are medians. Target: value / floor <= 3.

Memory: the tick runs in a child process at 100,000 and again at 1,000,000 schedule rows (same 10,000 due
reminders); each child reports the growth of its peak RSS (ru_maxrss) across the tick. Both must be about
the same, since the tick only ever holds one batch of ids.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg

from tests.bench.common import emit, peak_rss_mb, setup_django

NAME = "reminder_tick"
DB_NAME = "bench_tick"
ROOT = Path(__file__).resolve().parents[2]
WAVES = 10
PARTICIPANTS = (10_000, 100_000)  # x WAVES schedule rows: 100,000, then 1,000,000
DUE = 10_000
REPEAT = {100_000: 3, 1_000_000: 7}
TARGET = 3.0
FLOOR_SQL = "SELECT id FROM participants_reminder WHERE status = 'pending' AND due_at <= %s ORDER BY due_at"


def database_urls() -> tuple[str, str]:
    base = os.environ["DATABASE_URL"]
    parts = urllib.parse.urlsplit(base)
    return base, urllib.parse.urlunsplit(parts._replace(path=f"/{DB_NAME}"))


BASE_URL, BENCH_URL = database_urls()


def admin_execute(*statements: str) -> None:
    with psycopg.connect(BASE_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def create_database() -> None:
    admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": BENCH_URL, "DJANGO_SETTINGS_MODULE": "backend.settings.bench"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


# --- loading ----------------------------------------------------------------------------------------------


def build_study() -> dict[str, Any]:
    from django.contrib.auth.models import User

    from participants.models import Site
    from surveys import services

    author = User.objects.create_user(username="bench-tick-author")
    study = services.study_create(
        slug="bench-tick", title={"en": "Reminders"}, source_language="en", languages=["en"], by=author
    )
    waves = [
        services.wave_create(
            study=study,
            key=f"w{number}",
            name={"en": f"Wave {number}"},
            anchor="enrollment",
            offset_months=6 * number,
            window_days=60,
        )  # fmt: skip
        for number in range(WAVES)
    ]
    site = Site.objects.create(
        study=study, code="nairobi", name="Nairobi", country="KE", time_zone="Africa/Nairobi"
    )
    return {"study": study.pk, "site": site.pk, "waves": [wave.pk for wave in waves]}


def load(cursor: Any, ids: dict[str, Any], first: int, last: int, now: datetime.datetime, due: bool) -> None:
    """Participants first..last, their WAVES schedule rows and one reminder per schedule row.

    With ``due``, every tenth of these reminders is pending and due (10,000 of the first 100,000 rows).
    """
    cursor.execute(
        """
        INSERT INTO participants_participant (pseudonym, study_id, site_id, preferred_language, country_of_origin,
            country_of_departure, birth_year, enrolled_on, status, created_at)
        SELECT 'T' || lpad(i::text, 8, '0'), %(study)s, %(site)s, 'ar', 'SY', 'KE', 1970 + i %% 40,
            %(today)s::date - (i %% 700), 'active', %(now)s
        FROM generate_series(%(first)s, %(last)s) AS i
        """,
        {
            "study": ids["study"],
            "site": ids["site"],
            "today": now.date(),
            "now": now,
            "first": first,
            "last": last,
        },
    )
    cursor.execute(
        """
        INSERT INTO participants_participantwave (participant_id, wave_id, status, anchor_date, opens_at, closes_at,
            time_zone, updated_at)
        SELECT p.id, w.wave_id, 'open', p.enrolled_on, p.enrolled_on + w.position * interval '6 months',
            p.enrolled_on + w.position * interval '6 months' + interval '60 days', 'Africa/Nairobi', %(now)s
        FROM participants_participant p
        CROSS JOIN unnest(%(waves)s::bigint[]) WITH ORDINALITY AS w(wave_id, position)
        WHERE p.pseudonym BETWEEN %(low)s AND %(high)s
        ORDER BY p.id, w.position
        """,
        {"waves": ids["waves"], "now": now, "low": f"T{first:08d}", "high": f"T{last:08d}"},
    )
    cursor.execute(
        """
        INSERT INTO participants_reminder (schedule_id, kind, sequence, due_at, status, channel, channels_tried,
            attempts, sent_at, provider, provider_reference, outcome, created_at)
        SELECT s.id, 'invitation', 0, r.due_at, r.status, '', '[]'::jsonb, 0,
            CASE WHEN r.status = 'sent' THEN r.due_at END, '', '', '', %(now)s
        FROM participants_participantwave s
        JOIN participants_participant p ON p.id = s.participant_id
        CROSS JOIN LATERAL (
            SELECT CASE
                WHEN %(due)s AND s.id %% 10 = 0 THEN %(now)s - (s.id %% 360) * interval '1 minute' - interval '1 second'
                WHEN s.id %% 10 < 7 THEN %(now)s + interval '1 day' + (s.id %% 59) * interval '1 day'
                ELSE %(now)s - interval '2 days' - (s.id %% 300) * interval '1 day'
            END AS due_at,
            CASE
                WHEN %(due)s AND s.id %% 10 = 0 THEN 'pending'
                WHEN s.id %% 10 < 7 THEN 'pending'
                WHEN s.id %% 10 = 7 THEN 'cancelled'
                ELSE 'sent'
            END AS status
        ) AS r
        WHERE p.pseudonym BETWEEN %(low)s AND %(high)s
        ORDER BY s.id
        """,
        {"now": now, "due": due, "low": f"T{first:08d}", "high": f"T{last:08d}"},
    )


def counts(cursor: Any, now: datetime.datetime) -> dict[str, int]:
    cursor.execute(
        """
        SELECT (SELECT count(*) FROM participants_participantwave),
               (SELECT count(*) FROM participants_reminder),
               (SELECT count(*) FROM participants_reminder WHERE status = 'pending' AND due_at <= %s),
               (SELECT count(*) FROM participants_reminder WHERE status = 'pending')
        """,
        [now],
    )
    schedules, reminders, due, pending = cursor.fetchone()
    return {"schedules": schedules, "reminders": reminders, "due": due, "pending": pending}


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux: clear_refs 5), so ru_maxrss then measures only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    return peak_rss_mb()


class Counter:
    """Stands in for ``Task.delay``: counts the calls and keeps the last arguments, enqueues nothing."""

    def __init__(self) -> None:
        self.calls = 0
        self.last_args: tuple[Any, ...] = ()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        self.last_args = args


class Handed(Counter):
    """Stands in for ``reminders_dispatch.delay``: keeps every chunk of ids handed over."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[list[int]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        self.chunks.append(args[0])

    def take_ids(self) -> list[int]:
        ids = [reminder_id for chunk in self.chunks for reminder_id in chunk]
        self.chunks = []
        return ids


# --- measuring (in a child process per size, so that its peak RSS is its own) ----------------------------


def measure(now: datetime.datetime, repeat: int, with_redis: bool) -> dict[str, Any]:
    from django.db import connection

    from participants import tasks

    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, [now])
        due_ids = [row[0] for row in cursor.fetchall()]
    assert len(due_ids) == DUE, len(due_ids)

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM participants_reminderclaim")
            cursor.execute(
                "UPDATE participants_reminder SET status = 'pending', claimed_at = NULL WHERE id = ANY(%s)"
                " AND (status <> 'pending' OR claimed_at IS NOT NULL)",
                [due_ids],
            )
            cursor.execute("VACUUM participants_reminder")

    def floor() -> float:
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL, [now])
            rows = cursor.fetchall()
        elapsed = time.perf_counter() - start
        assert len(rows) == DUE, len(rows)
        return elapsed

    def tick() -> tuple[float, int, int]:
        """One dispatch tick, as beat + the task's own re-enqueueing would run it: until a batch is not full."""
        claimed = calls = 0
        start = time.perf_counter()
        batch = tasks.reminders_tick(limit=tasks.TICK_BATCH)
        while True:
            claimed += batch
            calls += 1
            if batch < tasks.TICK_BATCH:
                break
            batch = tasks.reminders_tick(*rescheduled.last_args)
        return time.perf_counter() - start, claimed, calls

    def check_handed() -> None:
        handed = sent.take_ids()
        assert sorted(handed) == sorted(due_ids), (len(handed), len(set(handed)))

    sent, rescheduled = Handed(), Counter()
    ticks, floors = [], []
    with (
        mock.patch.object(tasks.reminders_dispatch, "delay", sent),
        mock.patch.object(tasks.reminders_tick, "delay", rescheduled),
    ):
        reset()
        process_peak = peak_rss_mb()
        exact = reset_peak_rss()
        rss_before = status_mb("VmRSS") if exact else peak_rss_mb()
        seconds, claimed, calls = tick()  # warm-up, and the tick's own memory before any floor query ran
        rss_tick = status_mb("VmHWM") if exact else peak_rss_mb()
        assert claimed == DUE, claimed
        check_handed()
        for _ in range(repeat):
            reset()
            floors.append(floor())
            seconds, claimed, calls = tick()
            assert claimed == DUE, claimed
            check_handed()
            ticks.append(seconds)
        where = breakdown(reset, tick)
    result: dict[str, Any] = {
        "tick_s": statistics.median(ticks), "floor_s": statistics.median(floors), "ticks": ticks, "floors": floors,
        "tick_calls": calls, "tick_reschedules": rescheduled.calls, "rss_before_mb": rss_before,
        "rss_tick_delta_mb": round(rss_tick - rss_before, 1), "rss_delta_exact": exact, **where,
    }  # fmt: skip
    if with_redis:
        result["tick_redis_s"], result["dispatch_redis_s"] = redis_tick(reset, tick, rescheduled)
    reset()  # leave the due reminders as they were found
    result["peak_rss_mb"] = max(process_peak, peak_rss_mb())
    return result


def breakdown(reset: Any, tick: Any) -> dict[str, Any]:
    """Where one (extra, untimed for the value) tick spends its time: SQL statements by kind, and the rest."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reset()
    with CaptureQueriesContext(connection) as captured:
        seconds, _, _ = tick()
    kinds = {"claim": 0.0, "recovery": 0.0, "other_sql": 0.0}
    for query in captured.captured_queries:
        sql, took = query["sql"], float(query["time"])
        if sql.startswith("WITH live AS"):  # the batch: due rows minus live claims, recorded as a claim
            kinds["claim"] += took
        elif sql.startswith(('UPDATE "participants_reminder"', 'SELECT "participants_reminderclaim"')):
            kinds["recovery"] += took
        else:
            kinds["other_sql"] += took
    result = {f"{kind}_ms": round(took * 1000, 1) for kind, took in kinds.items()}
    result["python_ms"] = round((seconds - sum(kinds.values())) * 1000, 1)
    result["queries"] = len(captured.captured_queries)
    return result


def redis_tick(reset: Any, tick: Any, rescheduled: Counter) -> tuple[float, float]:
    """One tick that really enqueues its reminders_dispatch chunks to Redis (kombu), then those chunks run as
    a worker would run them, each queueing one reminder_send per id; the queues are purged afterwards."""
    from django.conf import settings

    from backend.celery import app
    from participants import tasks

    providers = settings.CELERY_TASK_ROUTES["participants.tasks.reminder_send"]["queue"]
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    reset()
    chunks: list[list[int]] = []
    real_delay = tasks.reminders_dispatch.delay

    def recording_delay(reminder_ids: list[int]) -> Any:
        chunks.append(reminder_ids)
        return real_delay(reminder_ids)

    with (
        mock.patch.object(tasks.reminders_tick, "delay", rescheduled),
        mock.patch.object(tasks.reminders_dispatch, "delay", recording_delay),
    ):
        seconds, claimed, _ = tick()
    start = time.perf_counter()
    for chunk in chunks:
        tasks.reminders_dispatch(chunk)
    dispatch_seconds = time.perf_counter() - start
    with app.connection_for_write() as connection:
        purged_chunks = connection.default_channel.queue_purge(default)
        purged_sends = connection.default_channel.queue_purge(providers)
    assert (claimed, purged_chunks, purged_sends) == (DUE, len(chunks), DUE), (
        claimed,
        purged_chunks,
        purged_sends,
    )
    return seconds, dispatch_seconds


def child(size: int, now_iso: str, repeat: int, with_redis: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.bench.bench_reminder_tick", "--measure", now_iso, str(repeat)]
    if with_redis:
        command.append("--redis")
    env = {**os.environ, "DATABASE_URL": BENCH_URL}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        raise RuntimeError(f"the measuring child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    started = time.perf_counter()
    create_database()
    os.environ["DATABASE_URL"] = BENCH_URL
    setup_django()
    from django.db import connection, connections
    from django.utils import timezone

    try:
        now = timezone.now().replace(microsecond=0)
        ids = build_study()
        results: dict[int, dict[str, Any]] = {}
        load_seconds = 0.0
        previous = 0
        for participants in PARTICIPANTS:
            load_started = time.perf_counter()
            with connection.cursor() as cursor:
                load(cursor, ids, previous + 1, participants, now, due=previous == 0)
                cursor.execute("VACUUM ANALYZE")
                sizes = counts(cursor, now)
            load_seconds += time.perf_counter() - load_started
            previous = participants
            assert sizes["due"] == DUE, sizes
            size = sizes["schedules"]
            results[size] = child(size, now.isoformat(), REPEAT[size], with_redis=size == max(REPEAT))
            results[size]["sizes"] = sizes
            print(
                f"  {size:>9,} schedule rows, {sizes['reminders']:,} reminders ({sizes['pending']:,} pending, "
                f"{sizes['due']:,} due): tick {results[size]['tick_s'] * 1000:.0f} ms, floor "
                f"{results[size]['floor_s'] * 1000:.1f} ms, peak RSS +{results[size]['rss_tick_delta_mb']} MB "
                f"over {results[size]['rss_before_mb']} MB"
            )
        big, small = results[max(results)], results[min(results)]
        value, floor = big["tick_s"], big["floor_s"]
        ratio = value / floor
        load_average = os.getloadavg()
        print(
            f"{NAME}: data loaded in {load_seconds:.0f} s; {DUE:,} due reminders claimed in "
            f"{big['tick_calls']} calls of TICK_BATCH={_tick_batch()}: {value * 1000:.0f} ms (median of {REPEAT[max(results)]}) "
            f"vs bare query {floor * 1000:.1f} ms; ratio {ratio:.1f}, target <= {TARGET}: "
            f"{'met' if ratio <= TARGET else 'NOT MET'}; with real Redis enqueueing: {big['tick_redis_s'] * 1000:.0f} ms "
            f"(then the workers' fan-out to one reminder_send each: {big['dispatch_redis_s'] * 1000:.0f} ms)"
        )
        print(
            f"one tick, by part ({big['queries']} queries): claim statements (due rows minus live claims, recorded) "
            f"{big['claim_ms']} ms, recovery {big['recovery_ms']} ms, other SQL "
            f"{big['other_sql_ms']} ms, Python {big['python_ms']} ms"
        )
        print(
            f"memory: peak RSS growth during the tick {small['rss_tick_delta_mb']} MB at {min(results):,} rows, "
            f"{big['rss_tick_delta_mb']} MB at {max(results):,} rows; load average {load_average[0]:.2f}; "
            f"total {time.perf_counter() - started:.0f} s"
        )
        emit(
            NAME, "s", round(value, 4), round(floor, 5),
            target=TARGET, target_met=ratio <= TARGET, due=DUE, schedules=big["sizes"]["schedules"],
            reminders=big["sizes"]["reminders"], pending=big["sizes"]["pending"], tick_batch=_tick_batch(),
            tick_calls=big["tick_calls"], tick_ms_all=[round(x * 1000, 1) for x in big["ticks"]],
            floor_ms_all=[round(x * 1000, 2) for x in big["floors"]], tick_redis_s=big["tick_redis_s"],
            dispatch_redis_s=big["dispatch_redis_s"], enqueue_chunk=_enqueue_chunk(),
            enqueue="patched recorder of reminders_dispatch chunks (tick_redis_s: real kombu/Redis enqueue)",
            small_schedules=small["sizes"]["schedules"], small_tick_s=small["tick_s"], small_floor_s=small["floor_s"],
            rss_tick_delta_mb_small=small["rss_tick_delta_mb"], rss_tick_delta_mb=big["rss_tick_delta_mb"],
            rss_delta_exact=big["rss_delta_exact"], peak_rss_mb=big["peak_rss_mb"], load_seconds=load_seconds,
            queries=big["queries"], claim_ms=big["claim_ms"],
            recovery_ms=big["recovery_ms"], other_sql_ms=big["other_sql_ms"], python_ms=big["python_ms"],
            loadavg_1m=load_average[0], loadavg=[round(x, 2) for x in load_average],
        )  # fmt: skip
    finally:
        connections.close_all()
        admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def _tick_batch() -> int:
    from participants.tasks import TICK_BATCH

    return TICK_BATCH


def _enqueue_chunk() -> int:
    from participants.tasks import ENQUEUE_CHUNK

    return ENQUEUE_CHUNK


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        setup_django()
        print(
            json.dumps(
                measure(datetime.datetime.fromisoformat(sys.argv[2]), int(sys.argv[3]), "--redis" in sys.argv)
            )
        )
    else:
        main()
