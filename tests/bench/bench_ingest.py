"""Benchmark ``ingest``: completed 300-question responses per second through the real HTTP stack.

Setup, in a database of its own (``bench_ingest`` on the testenv server, migrated, dropped at the end): a
study with a published questionnaire of 300 questions in one section (tests/bench/survey_support.py:
single choice, rating, yes/no, integer with a constraint, free text, relevance rules), a wave anchored on
enrollment (window 60 days), a registered study key, and a pool of participants, each with its schedule row
(``schedules_sync``) and an API token (``credentials_issue`` + ``access_exchange_code``), so that every
completion is for a fresh participant-wave.

Server: gunicorn, 2 sync workers (``backend.settings.bench_floor``: the bench settings, whose URLconf adds
the floor endpoint to the API). Clients: 32 threads, http.client with keep-alive (gunicorn's sync workers
close the connection after each response, so in effect one connection per request, for both sides).

* value: completed responses per second, one request each: ``POST /me/waves/<wave>/answers/`` with the 300
  answers and ``"complete": true`` (validated, sealed with HPKE, schedule closed, reminders cancelled). The
  questionnaire is one section, and the participant web client (``/p/``) sends its last page that way, so
  this is how a phone completes it;
* floor: requests per second of ``POST /bench/floor/`` with the same body (same answers JSON), which only
  parses it and inserts it as one jsonb row, same clients, same server.
* extra, ``two_request_*``: the same response as a page, then ``POST /me/waves/<wave>/complete/`` (validated
  twice, draft encrypted in between);
* extra, ``ceiling_*``: completed responses per second of ``POST /bench/ceiling/<wave>/`` (tests/bench/
  ceiling.py), the same completing page with every guarantee and no framework: the product's token look-up,
  validator, digest and HPKE seal, and two hand-written SQL statements. It shows how much of the distance
  to the floor is the product's code and how much is the work itself.

Phases run floor, single, ceiling, pages, pages, ceiling, single, floor (after a warm-up of each), so a drift of the load
from other processes hits every kind alike. Target: value / floor >= 0.5. Also reported: latency
percentiles, CPU seconds per response of gunicorn, of PostgreSQL and of the clients (from /proc, less
sensitive to other load than throughput) against the CPU the target allows, the server time and SQL
queries of each request measured in-process (django.test.Client), the time to validate 300 answers, and,
when the target is missed, a cProfile (CPU time) of the server side of a few responses.
"""

from __future__ import annotations

import cProfile
import datetime
import http.client
import io
import json
import os
import pstats
import queue
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.bench.common import emit, peak_rss_mb, setup_django
from tests.bench.survey_support import LANGUAGES, answers_for, question_specs, texts

NAME = "ingest"
DB_NAME = "bench_ingest"
ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 32
WORKERS = 2
WARMUP_SECONDS = 3.0
PHASE_SECONDS = 10.0
# Symmetric around the middle, so that a linear drift of the machine's load hits every kind alike.
PHASES = ["floor", "single", "ceiling", "pages", "pages", "ceiling", "single", "floor"]
KINDS = ("page", "complete", "single", "ceiling", "floor")
IN_PROCESS_RESPONSES = 20
PROFILE_RESPONSES = 15
TARGET = 0.5
SECTION = "main"
WAVE = "pre-departure"


def database_urls() -> tuple[str, str]:
    """(URL of the testenv's database, URL of this benchmark's own database on the same server)."""
    base = os.environ["DATABASE_URL"]
    parts = urllib.parse.urlsplit(base)
    return base, urllib.parse.urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def admin_execute(base_url: str, *statements: str) -> None:
    with psycopg.connect(base_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def create_database(base_url: str, bench_url: str) -> None:
    admin_execute(base_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_SETTINGS_MODULE": "backend.settings.bench"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


# Django is set up against the benchmark's own database, which must exist first: see main().
BASE_URL, BENCH_URL = database_urls()


def build_fixtures() -> dict[str, Any]:
    from django.contrib.auth.models import User

    from participants.crypto import sealing
    from participants.models import Site
    from participants.responses import services as responses
    from surveys import services

    author = User.objects.create_user(username="bench-ingest-author")
    study = services.study_create(
        slug="bench-ingest",
        title=texts("Life in Sweden"),
        source_language="en",
        languages=LANGUAGES,
        by=author,
    )
    version = services.questionnaire_create(study=study, slug="values", title=texts("Values")).versions.get()
    section = services.section_create(version=version, key=SECTION, title=texts("Everything"))
    specs = question_specs(random.Random(20250601))
    for spec in specs:
        services.question_create(section=section, **spec)
    version = services.version_publish(version=version, by=author)
    wave = services.wave_create(
        study=study, key=WAVE, name=texts("Before you leave"), questionnaire_version=version,
        anchor="enrollment", window_days=60,
    )  # fmt: skip
    _, public_key = sealing.generate_keypair()
    responses.study_key_register(
        study=study, public_key_pem=sealing.public_key_to_pem(public_key), suite=sealing.DEFAULT_SUITE,
        label="bench key", by=author,
    )  # fmt: skip
    site = Site.objects.create(
        study=study, code="nairobi", name="Nairobi", country="KE", time_zone="Africa/Nairobi"
    )
    return {"study": study, "version": version, "wave": wave, "site": site, "specs": specs}


def enroll_pool(site: Any, count: int) -> list[str]:
    """``count`` participants enrolled two days ago, each with its schedule row and a fresh API token.

    The Participant rows are bulk-inserted (enrollment's contact details, consent and audit are not what this
    benchmark measures); the schedule and the token come from the real services.
    """
    from django.utils import timezone

    from participants import codes
    from participants.models import Participant
    from participants.reminders.schedules import schedules_sync
    from participants.services import access

    enrolled_on = timezone.localdate() - datetime.timedelta(days=2)
    participants = Participant.objects.bulk_create(
        [
            Participant(
                pseudonym=codes.new_pseudonym(),
                study_id=site.study_id,
                site=site,
                preferred_language="ar",
                country_of_origin="SY",
                country_of_departure="KE",
                birth_year=1990,
                enrolled_on=enrolled_on,
            )  # fmt: skip
            for _ in range(count)
        ],
        batch_size=1000,
    )
    tokens = []
    for participant in participants:
        schedules_sync(participant=participant)
        code = access.credentials_issue(participant=participant).access_code
        tokens.append(access.access_exchange_code(typed_code=code).token)
    return tokens


TABLE_SQL = "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, body jsonb NOT NULL)"


def last_page(suffix: str) -> str:
    """The same page body marked as the last one: validated and sealed at once, one request per response."""
    return suffix[:-1] + ',"complete":true}'


def bodies(answers: dict[str, Any]) -> tuple[str, str]:
    """Prefix and suffix of a page body around its submission id: the answers are serialised once."""
    answers_json = json.dumps(answers, ensure_ascii=False, separators=(",", ":"))
    return '{"submission_id":"', f'","section":"{SECTION}","answers":{answers_json}}}'


# --- in-process: server time, SQL queries, profile --------------------------------------------------------


def in_process(tokens: list[str], answers: dict[str, Any], count: int) -> dict[str, float]:
    """Median server time (ms) and SQL queries of each kind of request, through django.test.Client."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    prefix, suffix = bodies(answers)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    queries: dict[str, int] = {}
    with override_settings(ROOT_URLCONF="tests.bench.floor_urls"):
        for _ in range(count):
            client = Client(headers={"authorization": f"Bearer {tokens.pop()}"})
            single = Client(headers={"authorization": f"Bearer {tokens.pop()}"})
            ceiling = Client(headers={"authorization": f"Bearer {tokens.pop()}"})
            requests = {
                "page": (client, f"/api/v1/me/waves/{WAVE}/answers/", prefix + str(uuid.uuid4()) + suffix, 200),
                "complete": (client, f"/api/v1/me/waves/{WAVE}/complete/", json.dumps({"submission_id": str(uuid.uuid4())}), 200),
                "single": (single, f"/api/v1/me/waves/{WAVE}/answers/", prefix + str(uuid.uuid4()) + last_page(suffix), 200),
                "ceiling": (ceiling, f"/bench/ceiling/{WAVE}/", prefix + str(uuid.uuid4()) + last_page(suffix), 200),
                "floor": (client, "/bench/floor/", prefix + str(uuid.uuid4()) + suffix, 201),
            }  # fmt: skip
            for kind, (client, url, body, expected) in requests.items():
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    reply = client.post(url, body, content_type="application/json")
                    times[kind].append((time.perf_counter() - start) * 1000)
                assert reply.status_code == expected, (kind, reply.status_code, reply.content[:500])
                queries[kind] = len(captured)
    result = {f"{kind}_ms": statistics.median(values) for kind, values in times.items()}
    result.update({f"{kind}_queries": float(number) for kind, number in queries.items()})
    result["validate_ms"] = validate_ms(answers)
    return result


def validate_ms(answers: dict[str, Any], repeat: int = 10) -> float:
    """Median time of validation.validate over all 300 questions, as response_complete calls it."""
    from participants.responses import validation
    from surveys.models import QuestionnaireVersion

    version = validation.compiled_version(
        QuestionnaireVersion.objects.get(questionnaire__study__slug="bench-ingest")
    )
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        normalized, errors = validation.validate(
            version, answers=answers, questions=list(version.questions), language="ar"
        )
        times.append((time.perf_counter() - start) * 1000)
        assert not errors, errors[:3]
    return statistics.median(times)


def profile(tokens: list[str], answers: dict[str, Any], count: int) -> str:
    """cProfile (CPU time: the workers are CPU-bound) of the server side of ``count`` responses, each one
    completing page through django.test.Client: the top functions by own time, then by cumulative time."""
    import sysconfig

    from django.test import Client

    prefix, suffix = bodies(answers)
    profiler = cProfile.Profile(time.process_time)
    for _ in range(count):
        client = Client(headers={"authorization": f"Bearer {tokens.pop()}"})
        profiler.enable()
        done = client.post(f"/api/v1/me/waves/{WAVE}/answers/", prefix + str(uuid.uuid4()) + last_page(suffix),
                           content_type="application/json")  # fmt: skip
        profiler.disable()
        assert done.status_code == 200, done.content[:300]
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(40)
    text = out.getvalue().replace(sysconfig.get_paths()["purelib"] + "/", "").replace(f"{ROOT}/", "")
    return "\n".join(line for line in text.splitlines() if line.strip())


# --- the HTTP load ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": BENCH_URL, "DJANGO_SETTINGS_MODULE": "backend.settings.bench_floor"}
    command = [
        str(ROOT / ".venv" / "bin" / "python"), "-m", "gunicorn", "backend.wsgi:application",
        "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is not None and server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int) -> dict[tuple[str, int], float]:
    """CPU seconds so far of gunicorn (master and workers) and of the PostgreSQL backends of this benchmark's
    database, by process; ("clients", 0) is this process (the client threads)."""
    snapshot: dict[tuple[str, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid, parent = int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])
        if pid in (server_pid, os.getpid()):
            part = "server" if pid == server_pid else ""
        elif parent == server_pid:
            part = "server"
        elif command.startswith("postgres: ") and f" {DB_NAME} " in command:
            part = "database"
        else:
            continue
        if part:
            snapshot[(part, pid)] = _cpu_seconds(pid)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    snapshot[("clients", 0)] = usage.ru_utime + usage.ru_stime
    return snapshot


def cpu_used(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> dict[str, float]:
    """CPU seconds by part between two snapshots, over the processes alive at the end (a process that exited
    in between is left out rather than counted negative)."""
    used = {"server": 0.0, "database": 0.0, "clients": 0.0}
    for (part, pid), seconds in after.items():
        used[part] += seconds - before.get((part, pid), 0.0)
    return used


@dataclass
class Phase:
    kind: str
    seconds: float = 0.0
    done: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    exhausted: bool = False
    cpu: dict[str, float] = field(default_factory=dict)
    lock_waiters: list[int] = field(default_factory=list)


def run_phase(
    kind: str,
    port: int,
    duration: float,
    pool: queue.SimpleQueue[str],
    prefix: str,
    suffix: str,
    server_pid: int,
) -> Phase:
    phase = Phase(kind)
    lock = threading.Lock()
    cpu_before = cpu_snapshot(server_pid)
    start = time.perf_counter()
    deadline = start + duration
    headers = {"content-type": "application/json", "connection": "keep-alive"}

    def post(
        connection: http.client.HTTPConnection, url: str, body: bytes, extra: dict[str, str]
    ) -> tuple[int, bytes, float]:
        began = time.perf_counter()
        connection.request("POST", url, body=body, headers={**headers, **extra})
        reply = connection.getresponse()
        content = reply.read()
        return reply.status, content, (time.perf_counter() - began) * 1000

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        local: dict[str, list[float]] = {kind: [] for kind in KINDS}
        done, errors = 0, []
        try:
            while time.perf_counter() < deadline and len(errors) < 5:
                body = (prefix + str(uuid.uuid4()) + suffix).encode()
                if kind == "floor":
                    status, content, ms = post(connection, "/bench/floor/", body, {})
                    if status != 201:
                        errors.append(f"floor {status} {content[:200]!r}")
                        continue
                    local["floor"].append(ms)
                    done += 1
                    continue
                try:
                    token = pool.get_nowait()
                except queue.Empty:
                    phase.exhausted = True
                    break
                auth = {"authorization": f"Bearer {token}"}
                if kind in ("single", "ceiling"):
                    body = (prefix + str(uuid.uuid4()) + last_page(suffix)).encode()
                    url = (
                        f"/api/v1/me/waves/{WAVE}/answers/" if kind == "single" else f"/bench/ceiling/{WAVE}/"
                    )
                    status, content, ms = post(connection, url, body, auth)
                    if status != 200 or b'"completed"' not in content:
                        errors.append(f"{kind} {status} {content[:200]!r}")
                        continue
                    local[kind].append(ms)
                    done += 1
                    continue
                status, content, ms = post(connection, f"/api/v1/me/waves/{WAVE}/answers/", body, auth)
                if status != 200:
                    errors.append(f"page {status} {content[:200]!r}")
                    continue
                local["page"].append(ms)
                complete = json.dumps({"submission_id": str(uuid.uuid4())}).encode()
                status, content, ms = post(connection, f"/api/v1/me/waves/{WAVE}/complete/", complete, auth)
                if status != 200:
                    errors.append(f"complete {status} {content[:200]!r}")
                    continue
                local["complete"].append(ms)
                done += 1
        except Exception as error:  # noqa: BLE001 - reported with the phase
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()
        with lock:
            phase.done += done
            phase.errors.extend(errors)
            for name, values in local.items():
                phase.latencies[name].extend(values)

    running = threading.Event()
    running.set()

    def lock_sampler() -> None:
        """How many server connections wait for a row lock, every 20 ms (pg_stat_activity)."""
        with psycopg.connect(BENCH_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            while running.is_set():
                (waiting,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    [DB_NAME],
                ).fetchone()
                phase.lock_waiters.append(waiting)
                time.sleep(0.02)

    sampler = threading.Thread(target=lock_sampler, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - start
    running.clear()
    sampler.join()
    phase.cpu = cpu_used(cpu_before, cpu_snapshot(server_pid))
    return phase


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    started = time.perf_counter()
    create_database(BASE_URL, BENCH_URL)
    os.environ["DATABASE_URL"] = BENCH_URL
    setup_django()
    from django.db import connection, connections

    from participants.models import Response

    server = None
    try:
        fixtures = build_fixtures()
        answers = answers_for(fixtures["specs"], random.Random(7))
        with connection.cursor() as cursor:
            cursor.execute(TABLE_SQL)
        setup_tokens = enroll_pool(fixtures["site"], 3 * IN_PROCESS_RESPONSES + PROFILE_RESPONSES)
        server_side = in_process(setup_tokens, answers, IN_PROCESS_RESPONSES)
        # Fresh participant-waves for a value phase at the best rate seen so far (at first: what 2 workers
        # could reach at the in-process server time), topped up between phases (untimed).
        best_rate = WORKERS * 1000 / server_side["single_ms"]
        pool: queue.SimpleQueue[str] = queue.SimpleQueue()
        enrolled, enroll_seconds = 0, 0.0

        def top_up(seconds: float) -> None:
            nonlocal enrolled, enroll_seconds
            missing = int(best_rate * (seconds + 5) * 1.5) + 2 * CLIENTS - pool.qsize()
            if missing > 0:
                begin = time.perf_counter()
                for token in enroll_pool(fixtures["site"], missing):
                    pool.put(token)
                enrolled += missing
                enroll_seconds += time.perf_counter() - begin
                connections.close_all()

        top_up(WARMUP_SECONDS)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connections.close_all()
        print(
            f"{NAME}: setup {time.perf_counter() - started:.1f} s; in-process server time: completing page "
            f"{server_side['single_ms']:.1f} ms ({server_side['single_queries']:.0f} queries), page "
            f"{server_side['page_ms']:.1f} ms ({server_side['page_queries']:.0f} queries), complete "
            f"{server_side['complete_ms']:.1f} ms ({server_side['complete_queries']:.0f} queries), ceiling "
            f"{server_side['ceiling_ms']:.1f} ms ({server_side['ceiling_queries']:.0f} queries), floor "
            f"{server_side['floor_ms']:.1f} ms ({server_side['floor_queries']:.0f} queries); validating 300 "
            f"answers {server_side['validate_ms']:.1f} ms"
        )

        prefix, suffix = bodies(answers)
        body_bytes = len((prefix + str(uuid.uuid4()) + suffix).encode())
        port = free_port()
        log = Path(tempfile.gettempdir()) / f"bench_ingest_gunicorn_{os.getpid()}.log"
        server = start_gunicorn(port, log)
        load_start = os.getloadavg()
        warm_completed = 0
        for kind in ("floor", "single", "ceiling", "pages"):
            if kind != "floor":
                top_up(WARMUP_SECONDS)
            warm = run_phase(kind, port, WARMUP_SECONDS, pool, prefix, suffix, server.pid)
            if warm.errors:
                raise RuntimeError(f"warm-up {kind}: {warm.errors[:3]}")
            if kind != "floor":
                warm_completed += warm.done
                best_rate = max(best_rate, warm.done / warm.seconds)
        phases = []
        for kind in PHASES:
            if kind != "floor":
                top_up(PHASE_SECONDS)
            phase = run_phase(kind, port, PHASE_SECONDS, pool, prefix, suffix, server.pid)
            phases.append(phase)
            if kind != "floor":
                best_rate = max(best_rate, phase.done / phase.seconds)
            print(f"  {kind}: {phase.done} in {phase.seconds:.2f} s = {phase.done / phase.seconds:.1f}/s; CPU s: "
                  f"gunicorn {phase.cpu['server']:.1f}, PostgreSQL {phase.cpu['database']:.1f}, clients "
                  f"{phase.cpu['clients']:.1f}{' (participant pool exhausted)' if phase.exhausted else ''}"
                  f"{f', errors: {phase.errors[:3]}' if phase.errors else ''}")  # fmt: skip
        load_end = os.getloadavg()
        stop(server)
        server = None

        def total(kind: str) -> tuple[int, float]:
            chosen = [phase for phase in phases if phase.kind == kind]
            return sum(phase.done for phase in chosen), sum(phase.seconds for phase in chosen)

        def cpu_ms(kind: str, part: str) -> float:
            chosen = [phase for phase in phases if phase.kind == kind]
            return 1000 * sum(phase.cpu[part] for phase in chosen) / sum(phase.done for phase in chosen)

        def lock_waiting(kind: str) -> float:
            """Mean number of gunicorn workers waiting for a row lock held by another (out of WORKERS)."""
            samples = [count for phase in phases if phase.kind == kind for count in phase.lock_waiters]
            return statistics.fmean(samples) if samples else float("nan")

        def latencies(name: str) -> list[float]:
            return [ms for phase in phases for ms in phase.latencies[name]]

        single_count, single_seconds = total("single")
        ceiling_count, ceiling_seconds = total("ceiling")
        pages_count, pages_seconds = total("pages")
        floor_count, floor_seconds = total("floor")
        value, floor = single_count / single_seconds, floor_count / floor_seconds
        pages = pages_count / pages_seconds
        ceiling = ceiling_count / ceiling_seconds
        ratio = value / floor
        errors = [error for phase in phases for error in phase.errors]
        completed_rows = Response.objects.filter(status=Response.Status.COMPLETED).count()
        expected_rows = 3 * IN_PROCESS_RESPONSES + warm_completed + pages_count + single_count + ceiling_count
        complete_ms, page_ms, floor_ms = latencies("complete"), latencies("page"), latencies("floor")
        single_ms, ceiling_ms = latencies("single"), latencies("ceiling")
        cpu = {f"cpu_ms_{part}_per_{unit}": cpu_ms(kind, part)
               for kind, unit in (("single", "response"), ("pages", "two_request_response"),
                                  ("ceiling", "ceiling_response"), ("floor", "floor_request"))
               for part in ("server", "database", "clients")}  # fmt: skip
        print(
            f"{NAME}: {CLIENTS} clients, gunicorn -w {WORKERS}; {value:.1f} completed responses/s "
            f'({single_count} in {single_seconds:.1f} s; one request each, the page with "complete": true, '
            f"{body_bytes} B) vs floor {floor:.1f} requests/s ({floor_count} in {floor_seconds:.1f} s); ratio "
            f"{ratio:.3f}, target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT MET'}"
        )
        print(
            f"latency p50/p99: completing page {percentile(single_ms, 50):.0f}/{percentile(single_ms, 99):.0f} ms, "
            f"floor {percentile(floor_ms, 50):.0f}/{percentile(floor_ms, 99):.0f} ms; load average "
            f"{load_start[0]:.2f} -> {load_end[0]:.2f}"
        )
        print(
            f"two requests per response (page, then /complete/): {pages:.1f} completed responses/s ({pages_count} "
            f"in {pages_seconds:.1f} s), ratio to the floor {pages / floor:.3f}; latency p50/p99 page "
            f"{percentile(page_ms, 50):.0f}/{percentile(page_ms, 99):.0f} ms, complete "
            f"{percentile(complete_ms, 50):.0f}/{percentile(complete_ms, 99):.0f} ms"
        )
        print(
            f"ceiling (tests/bench/ceiling.py: every guarantee, no framework, 3 statements): {ceiling:.1f} completed "
            f"responses/s ({ceiling_count} in {ceiling_seconds:.1f} s), ratio to the floor {ceiling / floor:.3f}; the "
            f"product reaches {value / ceiling:.2f} of it; latency p50/p99 {percentile(ceiling_ms, 50):.0f}/"
            f"{percentile(ceiling_ms, 99):.0f} ms; CPU per response: gunicorn {cpu['cpu_ms_server_per_ceiling_response']:.1f} ms, "
            f"PostgreSQL {cpu['cpu_ms_database_per_ceiling_response']:.1f} ms, clients "
            f"{cpu['cpu_ms_clients_per_ceiling_response']:.1f} ms"
        )
        print(
            f"CPU per completed response: gunicorn {cpu['cpu_ms_server_per_response']:.1f} ms, PostgreSQL "
            f"{cpu['cpu_ms_database_per_response']:.1f} ms, clients {cpu['cpu_ms_clients_per_response']:.1f} ms "
            f"(two requests: {cpu['cpu_ms_server_per_two_request_response']:.1f} / "
            f"{cpu['cpu_ms_database_per_two_request_response']:.1f} / {cpu['cpu_ms_clients_per_two_request_response']:.1f} ms); "
            f"per floor request: {cpu['cpu_ms_server_per_floor_request']:.2f} / "
            f"{cpu['cpu_ms_database_per_floor_request']:.2f} / {cpu['cpu_ms_clients_per_floor_request']:.2f} ms; "
            f"workers waiting for a row lock, on average: {lock_waiting('single'):.2f} of {WORKERS} (one request), "
            f"{lock_waiting('pages'):.2f} (two requests), {lock_waiting('floor'):.2f} (floor); "
            f"{enrolled + 3 * IN_PROCESS_RESPONSES + PROFILE_RESPONSES} participants enrolled ({enroll_seconds:.0f} s, "
            f"untimed); {completed_rows} completed responses in the database (expected {expected_rows})"
        )
        if completed_rows != expected_rows:
            print("WARNING: the database does not hold as many completed responses as were counted")
        # The machine's CPU is what both kinds share: at the target, a completion may cost at most 1 / TARGET
        # times the CPU of a floor request, counting every process (gunicorn, PostgreSQL, clients).
        spent = sum(cpu[f"cpu_ms_{part}_per_response"] for part in ("server", "database", "clients"))
        allowed = (
            sum(cpu[f"cpu_ms_{part}_per_floor_request"] for part in ("server", "database", "clients"))
            / TARGET
        )
        print(
            f"CPU budget: at the target a completion may cost {allowed:.2f} ms in all processes; it costs "
            f"{spent:.2f} ms (in-process, validating its 300 answers alone takes {server_side['validate_ms']:.2f} ms)"
        )
        if ratio < TARGET or os.environ.get("BENCH_PROFILE"):
            print(
                f"cProfile of the server side of {PROFILE_RESPONSES} responses (one completing page each), in-process:"
            )
            print(profile(setup_tokens, answers, PROFILE_RESPONSES))
        log.unlink(missing_ok=True)
        emit(
            NAME, "responses/s", round(value, 2), round(floor, 2),
            target=TARGET, target_met=ratio >= TARGET, clients=CLIENTS, workers=WORKERS, questions=len(fixtures["specs"]),
            requests_per_response=1, page_body_bytes=body_bytes, value_count=single_count, floor_count=floor_count,
            value_seconds=single_seconds, floor_seconds=floor_seconds, errors=len(errors),
            p50_ms=percentile(single_ms, 50), p99_ms=percentile(single_ms, 99),
            floor_p50_ms=percentile(floor_ms, 50), floor_p99_ms=percentile(floor_ms, 99),
            ceiling_rate=round(ceiling, 2), ceiling_ratio=ceiling / floor, ceiling_count=ceiling_count,
            value_to_ceiling=value / ceiling, ceiling_p50_ms=percentile(ceiling_ms, 50),
            ceiling_p99_ms=percentile(ceiling_ms, 99), server_ceiling_ms=server_side["ceiling_ms"],
            ceiling_queries=int(server_side["ceiling_queries"]),
            two_request_rate=round(pages, 2), two_request_ratio=pages / floor, two_request_count=pages_count,
            page_p50_ms=percentile(page_ms, 50), page_p99_ms=percentile(page_ms, 99),
            complete_p50_ms=percentile(complete_ms, 50), complete_p99_ms=percentile(complete_ms, 99),
            server_single_ms=server_side["single_ms"], server_page_ms=server_side["page_ms"],
            server_complete_ms=server_side["complete_ms"],
            server_floor_ms=server_side["floor_ms"], validate_ms=server_side["validate_ms"],
            single_queries=int(server_side["single_queries"]), page_queries=int(server_side["page_queries"]),
            complete_queries=int(server_side["complete_queries"]), floor_queries=int(server_side["floor_queries"]), **cpu,
            cpu_ms_per_response=spent, cpu_ms_allowed_at_target=allowed,
            lock_waiting_workers=lock_waiting("single"), lock_waiting_workers_two_requests=lock_waiting("pages"),
            lock_waiting_workers_floor=lock_waiting("floor"),
            loadavg_1m=load_end[0], loadavg=[round(x, 2) for x in load_end],
            loadavg_start=[round(x, 2) for x in load_start], peak_rss_mb=peak_rss_mb(),
        )  # fmt: skip
    finally:
        stop(server)
        connections.close_all()
        admin_execute(BASE_URL, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
