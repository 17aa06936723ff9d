"""End to end, with real components: enroll -> arrival -> invitation SMS -> reminder -> completed -> silence.

Real: a Celery worker (prefork, queues "default" and "providers") and Celery beat, subprocesses with
``backend.settings.e2e`` (beat ticks twice a second), a real Redis (scripts/testenv.sh) and PostgreSQL (the
pytest test database, with committed rows: ``transaction=True``), the fake 46elks HTTP server on loopback,
and the participant's own API calls (Django test client) with the personal link the SMS carried.

Time: the worker reads the real clock, so instead of moving the clock the test moves the data
(e2e_support.travel: every stored instant of the schedule moves back by the same amount, which is the same as
moving "now" forward, because every decision compares a stored instant with now). Quiet hours are switched off
in the wave's policy (start == end), so the test does not depend on the hour it runs at.

Process management and helpers: e2e_support.py. Log tails of the worker and beat are in every failure.
"""

from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.utils import timezone
from e2e_support import (
    PASSWORD,
    SENDER,
    USERNAME,
    CountingFake46elks,
    Stack,
    enroll_person,
    needs_postgres_and_redis,
    per_reminder,
    policy_without_quiet_hours,
    purge_broker,
    travel,
    wait_until,
)
from rest_framework.test import APIClient

from participants.models import ParticipantWave, Reminder
from surveys import services as survey_services
from surveys.models import Wave

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.celery_worker,
    needs_postgres_and_redis,
]

API = "/api/v1"
PHONE = "+46701111111"
WAVE_NAME_AR = "شهر في السويد"
INVITATION_AR = "أسئلتك التالية جاهزة"  # from participants.reminders.messages.DEFAULTS["invitation"]["ar"]
REMINDER_AR = "تذكير لطيف"  # DEFAULTS["reminder"]["ar"]
RLM = "\u200f"


@pytest.fixture
def elks() -> Iterator[CountingFake46elks]:
    with CountingFake46elks(username=USERNAME, password=PASSWORD) as fake:
        yield fake


@pytest.fixture
def start_stack(tmp_path: Path, elks: CountingFake46elks) -> Iterator[Callable[[], Stack]]:
    stacks: list[Stack] = []

    def start() -> Stack:
        broker = settings.CELERY_BROKER_URL
        assert broker.startswith("redis://"), "run under scripts/testenv.sh (REDIS_URL)"
        purge_broker(broker)
        stack = Stack(directory=tmp_path, broker_url=broker, elks=elks)
        stacks.append(stack)
        return stack.start()

    yield start
    for stack in stacks:
        stack.stop()


def _link_in(body: str, wave_key: str) -> str:
    """The one-time token of the personal link in a message (it travels in the URL fragment)."""
    found = re.search(re.escape(settings.PARTICIPANT_APP_URL) + r"#(\S+)", body)
    assert found, f"no personal link in {body!r}"
    fragment = parse_qs(found.group(1))
    assert fragment.get("wave", [wave_key]) == [wave_key]  # a link may also name the wave it opens
    return fragment["token"][0]


def _sign_in(token: str) -> tuple[APIClient, dict[str, Any]]:
    answer = APIClient().post(f"{API}/access/link/", {"token": token}, format="json")
    assert answer.status_code == 200, answer.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['token']}")
    return client, answer.json()


def test_enroll_arrive_invitation_reminder_completion_then_no_further_message(
    start_stack: Callable[[], Stack],
    elks: CountingFake46elks,
    study: Any,
    published: Any,
    site_a: Any,
    fatima_user: Any,
    fatima: APIClient,
    consent_text: Any,
    study_key: Any,
) -> None:
    # given: a wave one month after arrival, invitation + reminders on days 3, 7, 14 + last chance
    wave = survey_services.wave_create(
        study=study, key="one-month", questionnaire_version=published, anchor="arrival", offset_months=1,
        window_days=30, name={"en": "One month in Sweden", "sv": "En månad i Sverige", "ar": WAVE_NAME_AR},
    )  # fmt: skip
    policy_without_quiet_hours(wave, reminder_days=[3, 7, 14], last_chance_days=2)
    today = timezone.localdate()
    amira = enroll_person(
        site_a, fatima_user, consent_text, phone=PHONE, enrolled_on=today - datetime.timedelta(days=45),
        planned_departure_on=today - datetime.timedelta(days=35), gender="woman",
    )  # fmt: skip
    stack = start_stack()

    # when: enrolled but not arrived: nothing is scheduled for the arrival wave, nothing is sent
    stack.wait_ticks(2)
    assert elks.received == []
    assert not ParticipantWave.objects.filter(participant=amira, wave=wave).exists()

    # when: field staff record the arrival, a month ago
    arrived_on = today - relativedelta(months=1)
    patched = fatima.patch(
        f"{API}/participants/{amira.pseudonym}/", {"arrived_on": arrived_on.isoformat()}, format="json"
    )
    assert patched.status_code == 200, patched.content
    schedule = ParticipantWave.objects.get(participant=amira, wave=wave)
    plan = {(row.kind, row.sequence): row for row in Reminder.objects.filter(schedule=schedule)}
    assert set(plan) == {
        ("invitation", 0),
        ("reminder", 1),
        ("reminder", 2),
        ("reminder", 3),
        ("last_chance", 0),
    }
    invitation, first_reminder = plan[("invitation", 0)], plan[("reminder", 1)]
    # The window opens at local midnight of arrival + 1 month: today (or a day or three earlier at month ends).
    due_now = {row.pk for row in plan.values() if row.due_at <= timezone.now()}
    assert invitation.pk in due_now

    # then: the invitation arrives at the gateway, in Arabic, with a personal link that works
    wait_until(
        lambda: set(per_reminder(elks.messages)) >= due_now,
        what="the invitation at 46elks",
        explain=stack.explain,
    )
    message = next(m for m in elks.messages if per_reminder([m]) == {invitation.pk: 1})
    body = message["message"]
    assert message["to"] == PHONE
    assert message["from"] == SENDER
    assert body.startswith(RLM)  # right-to-left mark: the Latin link does not reorder the Arabic sentence
    assert INVITATION_AR in body
    assert WAVE_NAME_AR in body
    last_day = schedule.closes_at.astimezone(zoneinfo.ZoneInfo(schedule.time_zone)) - datetime.timedelta(
        seconds=1
    )
    assert last_day.date().isoformat() in body
    _, signed_in = _sign_in(_link_in(body, wave.key))
    assert signed_in["pseudonym"] == amira.pseudonym
    stack.wait_ticks(2)
    assert per_reminder(elks.messages) == dict.fromkeys(due_now, 1)  # once each, nothing else

    # when: three days pass: the day-3 reminder falls due
    travel([schedule], by=max(first_reminder.due_at - timezone.now(), datetime.timedelta(0)))
    wait_until(
        lambda: first_reminder.pk in per_reminder(elks.messages),
        what="the day-3 reminder at 46elks",
        explain=stack.explain,
    )
    reminder_body = next(m["message"] for m in elks.messages if per_reminder([m]) == {first_reminder.pk: 1})
    assert REMINDER_AR in reminder_body
    expected = {invitation.pk: 1, first_reminder.pk: 1}
    assert per_reminder(elks.messages) == expected

    # when: the participant follows the reminder's link and answers both pages, the second completing the wave
    participant, _ = _sign_in(_link_in(reminder_body, wave.key))
    answers_url = f"{API}/me/waves/{wave.key}/answers/"
    first_page = participant.post(
        answers_url,
        {"submission_id": str(uuid.uuid4()), "section": "family", "answers": {"Q1": "1", "Q49": 7}},
        format="json",
    )
    assert first_page.status_code == 200, first_page.content
    last_page = participant.post(
        answers_url,
        {
            "submission_id": str(uuid.uuid4()),
            "section": "work",
            "answers": {"EMPLOYED": "no"},
            "complete": True,
        },
        format="json",
    )
    assert last_page.status_code == 200, last_page.content
    assert last_page.json()["status"] == "completed"

    # then: the later messages are cancelled at once
    schedule.refresh_from_db()
    assert schedule.status == ParticipantWave.Status.COMPLETED
    later = [plan[("reminder", 2)], plan[("reminder", 3)], plan[("last_chance", 0)]]
    for row in later:
        row.refresh_from_db()
        assert (row.status, row.outcome) == (Reminder.Status.CANCELLED, "completed")

    # when: time passes every later slot (the last chance, two days before the window closes) ...
    travel([schedule], by=plan[("last_chance", 0)].due_at - timezone.now() + datetime.timedelta(hours=1))
    stack.wait_ticks(3)
    # ... and then the end of the window (beat runs schedules_advance every second)
    schedule.refresh_from_db()
    travel([schedule], by=schedule.closes_at - timezone.now() + datetime.timedelta(hours=1))
    stack.wait_ticks(4)

    # then: no further message reached the gateway, not even an attempt
    assert per_reminder(elks.messages) == expected
    assert len(elks.received) == 2
    schedule.refresh_from_db()
    assert schedule.status == ParticipantWave.Status.COMPLETED
    final = {row.pk: row for row in Reminder.objects.filter(schedule=schedule)}
    sent = {pk for pk, row in final.items() if row.status == Reminder.Status.SENT}
    assert sent == set(expected)
    references = {m["id"] for m in elks.messages}
    assert {final[pk].provider_reference for pk in sent} == references
    assert {row.status for pk, row in final.items() if pk not in sent} == {Reminder.Status.CANCELLED}


def test_a_wave_added_mid_study_reaches_a_participant_already_enrolled(
    start_stack: Callable[[], Stack],
    elks: CountingFake46elks,
    study: Any,
    published: Any,
    site_a: Any,
    fatima_user: Any,
    consent_text: Any,
    study_key: Any,
    sara: APIClient,
) -> None:
    # given amira, enrolled two days ago, and a study with no wave yet; the worker and beat are running
    today = timezone.localdate()
    amira = enroll_person(
        site_a, fatima_user, consent_text, phone=PHONE, enrolled_on=today - datetime.timedelta(days=2),
        planned_departure_on=today + datetime.timedelta(days=40),
    )  # fmt: skip
    stack = start_stack()
    # when the study admin adds a wave open from enrollment, through the API
    added = sara.post(
        f"{API}/studies/{study.pk}/waves/",
        {"key": "added", "name": {"en": "Added", "sv": "Tillagd", "ar": WAVE_NAME_AR}, "anchor": "enrollment",
         "window_days": 30, "questionnaire_version": published.pk},
        format="json",
    )  # fmt: skip
    assert added.status_code == 201, added.content
    wave = Wave.objects.get(pk=added.json()["id"])
    policy_without_quiet_hours(wave)
    # then the worker gives her a window for it, open now, and her invitation reaches the gateway
    wait_until(
        lambda: ParticipantWave.objects.filter(participant=amira, wave=wave, status="open").exists(),
        what="her window of the added wave",
        explain=stack.explain,
    )
    invitation = Reminder.objects.get(schedule__participant=amira, schedule__wave=wave, kind="invitation")
    wait_until(
        lambda: per_reminder(elks.messages).get(invitation.pk) == 1,
        what="the invitation of the added wave at 46elks",
        explain=stack.explain,
    )
    message = next(m for m in elks.messages if per_reminder([m]) == {invitation.pk: 1})
    assert (message["to"], WAVE_NAME_AR in message["message"]) == (PHONE, True)
