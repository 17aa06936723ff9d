"""`make run` runs on SQLite: the demo study loads there, and a participant answers and completes a wave.

The submission path has statements written by hand (token look-up, locking read, response read) and two
branches for SQLite (no row-lock clause; no id reserved ahead of the INSERT), which the PostgreSQL tests do
not reach. This runs them in a subprocess with ``backend.settings.local`` on a throwaway SQLite file: demo
set-up (its key written to the test's own folder), code exchange, every page of the first wave in Arabic
with the last one completing it, a retried page, and the sealed response opened with the demo's private key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs inside `manage.py shell`; prints one JSON line with what the test checks.
FLOW = r"""
import json, os, uuid
from pathlib import Path
from django.test import Client
from participants.crypto import sealing
from participants.demo.setup import DEMO_KEY_PASSPHRASE, demo_setup
from participants.models import Response
from participants.responses.opening import open_response

key_dir = Path(os.environ["DEMO_KEY_DIR"])
study, people = demo_setup(key_dir=key_dir)
amira = next(person for person in people if person.name == "amira")
token = Client(HTTP_HOST="localhost").post(
    "/api/v1/access/code/", {"code": amira.credentials.access_code}
).json()["token"]
phone = Client(HTTP_HOST="localhost", headers={"authorization": f"Bearer {token}"})
wave = study.waves.order_by("position").first().key
questionnaire = phone.get(f"/api/v1/me/waves/{wave}/questionnaire/").json()

def answer(question):
    kind = question["type"]
    if kind == "note" or question.get("relevant"):
        return None  # notes take no answer; the one relevant question depends on a "yes" not given
    return {"single_choice": lambda: question["choices"][0]["code"],
            "multiple_choice": lambda: [question["choices"][0]["code"]],
            "rating": lambda: question["scale"]["min"], "integer": lambda: question["min"],
            "yes_no": lambda: "no", "text": lambda: "written on SQLITE-MARKER",
            "date": lambda: "2020-01-01"}[kind]()

sections, replies, sent = questionnaire["sections"], [], {}
for position, section in enumerate(sections):
    answers = {q["var"]: answer(q) for q in section["questions"] if answer(q) is not None}
    sent.update(answers)
    body = json.dumps({"submission_id": str(uuid.uuid4()), "section": section["key"], "answers": answers,
                       "complete": position == len(sections) - 1})
    reply = phone.post(f"/api/v1/me/waves/{wave}/answers/", body, content_type="application/json")
    replies.append((reply.status_code, reply.json()))
    if position == 0:  # the phone did not hear back and sends the same page again
        again = phone.post(f"/api/v1/me/waves/{wave}/answers/", body, content_type="application/json")
        replies.append((again.status_code, again.json()))

private_key = sealing.private_key_from_encrypted_pem(
    (key_dir / "demo-study-key.pem").read_bytes(), passphrase=DEMO_KEY_PASSPHRASE.encode()
)
response = Response.objects.get(participant__pseudonym=amira.pseudonym)
document = open_response(response, private_key=private_key)
print("RESULT " + json.dumps({
    "replies": replies, "sent": sent, "opened": document["answers"], "language": document["language"],
    "responses": Response.objects.count(), "sections": [section["key"] for section in sections],
    "draft_after": phone.get(f"/api/v1/me/waves/{wave}/answers/").json(),
}))
"""


def _manage(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_demo_on_sqlite_takes_a_whole_wave_and_seals_it(tmp_path: Path) -> None:
    # given a fresh SQLite database with the demo study, as `make run` sets it up
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DEMO_KEY_DIR": str(tmp_path / "keys"),
    }
    _manage("migrate", "--noinput", "-v0", env=env)

    # when a participant answers every page of the first wave, one page twice
    output = _manage("shell", env=env, stdin=FLOW)
    result = json.loads(output.split("RESULT ", 1)[1])

    # then every page is accepted, the retry is the stored result, and the last page completes the wave
    replies = result["replies"]
    assert [status for status, _ in replies] == [200] * len(replies)
    first, retry = replies[0][1], replies[1][1]
    assert (first["replayed"], retry["replayed"]) == (False, True)
    assert {**retry, "replayed": False} == first
    assert [body["status"] for _, body in replies[2:]] == ["accepted"] * (len(replies) - 3) + ["completed"]
    assert result["responses"] == 1
    # ... and the sealed response opens to exactly what was sent, with no draft left
    assert result["opened"] == result["sent"]
    assert result["language"] == "ar"
    assert result["draft_after"] == {
        "status": "completed", "answers": {}, "sections_submitted": result["sections"], "language": "ar",
    }  # fmt: skip
