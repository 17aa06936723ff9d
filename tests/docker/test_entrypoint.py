"""docker/entrypoint.sh outside Docker: the commands of the container, run against the test services.

Every run starts from a foreign working directory, so the script's own ``cd`` to the repository is tested.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
NO_ISSUES = "System check identified no issues (0 silenced).\n"
# Variables of the outer environment that would change what the settings under test read.
FOREIGN = [
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "WAIT_FOR_DB",
    "WAIT_FOR_DB_TIMEOUT",
    "BIND",
    "SECRET_KEY_FILE",
    "FIELD_ENCRYPTION_KEYS_FILE",
    "BLIND_INDEX_KEY_FILE",
    "EMAIL_HOST_PASSWORD_FILE",
]

needs_database = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (run under scripts/testenv.sh)"
)


def _env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHON"] = sys.executable
    env["DJANGO_SETTINGS_MODULE"] = "backend.settings.test"
    env.update(extra)
    return env


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argument lists
        [str(ENTRYPOINT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_database
def test_check_deploy_is_clean_under_production_settings(tmp_path: Path) -> None:
    env = _env(
        DJANGO_SETTINGS_MODULE="backend.settings.production",
        SECRET_KEY=secrets.token_urlsafe(45),
        ALLOWED_HOSTS="example.org",
        FIELD_ENCRYPTION_KEYS=f"k2:{_key()},k1:{_key()}",
        BLIND_INDEX_KEY=_key(),
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
    )
    assert len(env["SECRET_KEY"]) == 60

    result = _run(["check"], env, tmp_path)

    assert (result.returncode, result.stdout) == (0, NO_ISSUES), result.stderr


def test_web_serves_healthz_and_logs_no_query_strings(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [str(ENTRYPOINT), "web"],
            env=env,
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/healthz?token=personal-link-secret"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, err.read_text()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http on loopback
                    status, body = response.status, json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, err.read_text()
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})

        # The image's HEALTHCHECK command, pointed at this server, with a host from ALLOWED_HOSTS.
        healthcheck = _dockerfile_healthcheck().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        probe = subprocess.run(  # noqa: S603 - the Dockerfile's own command
            [sys.executable, "-c", healthcheck],
            env=_env(ALLOWED_HOSTS="localhost,127.0.0.1"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.returncode == 0, probe.stderr
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            raise

    assert process.returncode == 0
    log = out.read_text() + err.read_text()
    access = [line for line in out.read_text().splitlines() if "/healthz" in line]
    assert len(access) == 2
    assert re.fullmatch(r'127\.0\.0\.1 "GET /healthz" 200 \d+ \d+\.\d+', access[0]), access
    assert "personal-link-secret" not in log
    assert "token=" not in log


def _dockerfile_healthcheck() -> str:
    text = (REPO / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*? CMD (\[.*\])$", text, re.MULTILINE)
    assert match is not None
    command = json.loads(match.group(1))
    assert command[:2] == ["python", "-c"]
    return command[2]


def test_unknown_command_is_executed_as_is(tmp_path: Path) -> None:
    result = _run(["echo", "hello"], _env(), tmp_path, timeout=30)

    assert (result.returncode, result.stdout, result.stderr) == (0, "hello\n", "")


def test_manage_passes_its_arguments_to_manage_py(tmp_path: Path) -> None:
    result = _run(["manage", "check"], _env(), tmp_path)

    assert (result.returncode, result.stdout) == (0, NO_ISSUES), result.stderr


def test_manage_runs_from_the_repository_root(tmp_path: Path) -> None:
    result = _run(["manage", "shell", "-v", "0", "-c", "import os; print(os.getcwd())"], _env(), tmp_path)

    assert (result.returncode, result.stdout) == (0, f"{REPO}\n"), result.stderr


@needs_database
def test_wait_for_db_returns_once_the_database_answers(tmp_path: Path) -> None:
    env = _env(WAIT_FOR_DB="1", DATABASE_URL=os.environ["DATABASE_URL"])

    result = _run(["echo", "ready"], env, tmp_path)

    assert (result.returncode, result.stdout) == (0, "ready\n"), result.stderr


def test_wait_for_db_gives_up_after_its_timeout(tmp_path: Path) -> None:
    env = _env(
        WAIT_FOR_DB="1",
        WAIT_FOR_DB_TIMEOUT="2",
        DATABASE_URL=f"postgres://panel@127.0.0.1:{_free_port()}/panel",
    )
    started = time.monotonic()

    result = _run(["echo", "never"], env, tmp_path, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "entrypoint: database not reachable" in result.stderr
    assert 2 <= time.monotonic() - started < 30


def test_compose_file_wires_the_services_without_secrets() -> None:
    text = (REPO / "docker" / "compose.yaml").read_text()
    services = yaml.safe_load(text)["services"]

    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat"}
    for name in ["migrate", "web", "worker", "beat"]:
        assert services[name]["env_file"] == "../.env"
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert services[name]["command"] == [name]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["web"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["web"]["ports"] == ["8000:8000"]
    for name in ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "PASSWORD"]:
        assert f"{name}:" not in text
        assert f"{name}=" not in text
