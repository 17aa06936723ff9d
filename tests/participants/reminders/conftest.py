"""Helpers for the schedule and reminder tests: a stopped clock, waves, enrollment on a given day, answering.

The personas, the study, its published version, the pre-departure ``wave`` and the research key
(``study_key``, registered for every test here) come from tests/conftest.py. Time stands still in these tests (``clock``): windows, quiet
hours and weekly limits are asserted to the exact instant, in UTC.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User

from participants.models import (
    Cohort,
    ConsentRecord,
    ConsentText,
    Participant,
    ParticipantWave,
    Reminder,
    ReminderPolicy,
    Site,
)
from participants.reminders import services as reminders
from participants.reminders.schedules import schedules_sync
from participants.responses import services as response_services
from participants.services import register
from surveys import services as survey_services
from surveys.models import QuestionnaireVersion, Study, Wave
from translations.content import set_text

API = "/api/v1"
UTC = datetime.UTC

# Monday 11 January 2027, 09:00 UTC: 12:00 in Nairobi and Amman, 10:00 in Stockholm.
T0 = datetime.datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
ENROLLED_ON = datetime.date(2027, 1, 10)
DEPARTURE_ON = datetime.date(2027, 6, 1)  # far enough not to shorten a 60-day pre-departure window


def utc(*parts: int) -> datetime.datetime:
    """An instant in UTC: ``utc(2027, 1, 9, 21)`` is 2027-01-09T21:00:00Z."""
    return datetime.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Clock:
    """Time stands still at ``now`` until a test moves it (time-machine, without ticking)."""

    traveller: Any
    now: datetime.datetime

    def move_to(self, instant: datetime.datetime) -> datetime.datetime:
        self.traveller.move_to(instant, tick=False)
        self.now = instant
        return instant

    def shift(self, delta: datetime.timedelta) -> datetime.datetime:
        return self.move_to(self.now + delta)


@pytest.fixture(autouse=True)
def research_key(study_key: Any) -> Any:
    """The study has its public key: without one nobody can answer, so no invitation goes out (a test retires
    it to see that)."""
    return study_key


@pytest.fixture
def clock(time_machine: Any) -> Clock:
    time_machine.move_to(T0, tick=False)
    return Clock(traveller=time_machine, now=T0)


# --- waves ----------------------------------------------------------------------------------------------------


def make_wave(
    study: Study,
    key: str,
    *,
    anchor: str,
    offset_months: int = 0,
    offset_days: int = 0,
    window_days: int = 30,
    version: QuestionnaireVersion | None = None,
    name: dict[str, str] | None = None,
) -> Wave:
    """A new wave, scheduled for everyone already enrolled (wave_create queues that for after the commit, which
    a test inside its transaction never reaches: test_wave_changes.py runs those commits)."""
    wave = survey_services.wave_create(
        study=study, key=key, name=name or {"en": key.title(), "sv": key.title(), "ar": key},
        questionnaire_version=version, anchor=anchor, offset_months=offset_months, offset_days=offset_days,
        window_days=window_days,
    )  # fmt: skip
    for participant in Participant.objects.filter(study=study):
        schedules_sync(participant=participant)
    return wave


@pytest.fixture
def arrival_wave(study: Study, published: QuestionnaireVersion) -> Wave:
    """The first wave in Sweden: opens on the arrival day, 30 days."""
    return make_wave(
        study, "arrival", anchor="arrival", window_days=30, version=published,
        name={"en": "Your first month", "sv": "Din första månad", "ar": "شهرك الأول"},
    )  # fmt: skip


def policy_create(
    wave: Wave, *, texts: dict[str, dict[str, str]] | None = None, **fields: Any
) -> ReminderPolicy:
    """A wave's own reminder policy; ``texts`` maps a field (e.g. "invitation_text") to {language: text}."""
    policy = ReminderPolicy(wave=wave, **fields)
    for field_name, by_language in (texts or {}).items():
        for language, text in by_language.items():
            set_text(policy, field_name, language, text)
    policy.save()
    return policy


# --- participants -------------------------------------------------------------------------------------------


def person(
    site: Site,
    staff: User,
    consent_text: ConsentText,
    *,
    phone: str = "",
    email: str = "",
    enrolled_on: datetime.date = ENROLLED_ON,
    planned_departure_on: datetime.date | None = DEPARTURE_ON,
    preferred_language: str = "ar",
    **extra: Any,
) -> Participant:
    """Enroll through the service on a given day (the clock must not be before it)."""
    return register.participant_enroll(
        site=site, by=staff, preferred_language=preferred_language, country_of_origin="SY",
        country_of_departure=site.country, birth_year=1990, enrolled_on=enrolled_on,
        planned_departure_on=planned_departure_on, name="Test Person", phone=phone, email=email,
        consent=register.ConsentInput(
            consent_text=consent_text, language="ar", method=ConsentRecord.Method.READ_ALOUD, witnessed_by=staff
        ),
        **extra,
    ).participant  # fmt: skip


@pytest.fixture
def amira_p(clock: Clock, site_a: Site, fatima_user: User, consent_text: ConsentText) -> Participant:
    """Amira at the Nairobi site (Arabic, SMS only), enrolled on 10 January 2027, leaving on 1 June."""
    return person(site_a, fatima_user, consent_text, phone="+46701111111", gender="woman")


def cohort_create(site: Site, code: str) -> Cohort:
    return Cohort.objects.create(study=site.study, site=site, code=code)


def arrive(participant: Participant, day: datetime.date, *, by: User | None = None) -> Participant:
    return register.participant_update(participant=participant, by=by, arrived_on=day)


# --- rows ---------------------------------------------------------------------------------------------------


def schedule_of(participant: Participant, wave: Wave) -> ParticipantWave:
    return ParticipantWave.objects.get(participant=participant, wave=wave)


def window_of(participant: Participant, wave: Wave) -> tuple[str, datetime.datetime, datetime.datetime, str]:
    row = schedule_of(participant, wave)
    return row.status, row.opens_at, row.closes_at, row.time_zone


def plan_of(participant: Participant, wave: Wave) -> list[tuple[str, int, datetime.datetime, str]]:
    """(kind, sequence, due_at, status) of the schedule's reminders, by due time."""
    return [
        (row.kind, row.sequence, row.due_at, row.status)
        for row in Reminder.objects.filter(schedule__participant=participant, schedule__wave=wave).order_by(
            "due_at", "kind", "sequence"
        )
    ]


def reminder_of(participant: Participant, wave: Wave, kind: str, sequence: int = 0) -> Reminder:
    return Reminder.objects.get(
        schedule__participant=participant, schedule__wave=wave, kind=kind, sequence=sequence
    )


def claim(now: datetime.datetime, limit: int = 100) -> list[int]:
    return reminders.reminders_claim_due(now=now, limit=limit).claimed


def send_due(now: datetime.datetime) -> list[tuple[str, int]]:
    """What a tick and its workers do, in one step: claim what is due, begin each, record each as sent."""
    sent = []
    for reminder_id in claim(now):
        prepared = reminders.reminder_begin(reminder_id=reminder_id, now=now)
        if prepared is not None:
            reminders.reminder_sent(
                reminder_id=reminder_id, provider="stub", reference=f"ref-{reminder_id}", now=now
            )
            sent.append((prepared.reminder.kind, prepared.reminder.sequence))
    return sent


# --- answering ----------------------------------------------------------------------------------------------


def complete_wave(participant: Participant, wave: Wave) -> dict[str, Any]:
    """Both pages of the small ``published`` questionnaire, then completion (needs ``study_key``)."""
    response_services.page_submit(
        participant=participant, wave_key=wave.key, submission_id=uuid.uuid4(), section="family",
        answers={"Q1": "1", "Q49": 4},
    )  # fmt: skip
    response_services.page_submit(
        participant=participant, wave_key=wave.key, submission_id=uuid.uuid4(), section="work",
        answers={"EMPLOYED": "no"},
    )  # fmt: skip
    return response_services.response_complete(
        participant=participant, wave_key=wave.key, submission_id=uuid.uuid4()
    )


def participant_url(participant: Participant, tail: str = "") -> str:
    return f"{API}/participants/{participant.pseudonym}/{tail}"
