"""A wave added mid-study, or retimed, or given another reminder policy, reaches everyone already enrolled.

The change queues ``study_schedules_sync`` for after its commit. Here the commit callbacks are run
(django_capture_on_commit_callbacks) and Celery runs the task in-process (eager), so each test sees what a
worker would do; the e2e tests (test_e2e_flow.py) run the same task through a real worker.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import transaction
from django.test import RequestFactory
from rest_framework.test import APIClient

from backend.celery import app
from participants.models import ConsentText, Participant, ParticipantWave, ReminderPolicy, Site, StudyResync
from participants.reminders import schedules
from participants.tasks import schedules_advance, study_schedules_sync
from surveys import services as survey_services
from surveys.models import QuestionnaireVersion, Study, Wave
from tests.participants.reminders.conftest import Clock, person, plan_of, utc, window_of

Capture = Callable[..., Any]


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in-process when queued, and their errors fail the test."""
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def _new_wave(study: Study, version: QuestionnaireVersion | None = None, **timing: Any) -> Wave:
    return survey_services.wave_create(
        study=study, key="six-months", name={"en": "Six months", "sv": "Sex månader", "ar": "ستة أشهر"},
        questionnaire_version=version, **timing,
    )  # fmt: skip


def test_a_wave_added_through_the_api_is_scheduled_for_everyone_already_enrolled(
    clock: Clock, eager: None, sara: APIClient, study: Study, amira_p: Participant,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    # given amira, enrolled on 10 January 2027 in Nairobi, and no wave "six-months" yet
    # when a study admin adds a wave 6 months after enrollment
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reply = sara.post(
            f"/api/v1/studies/{study.pk}/waves/",
            {"key": "six-months", "name": {"en": "Six months", "sv": "Sex månader", "ar": "ستة أشهر"},
             "anchor": "enrollment", "offset_months": 6, "window_days": 30},
            format="json",
        )  # fmt: skip
    assert reply.status_code == 201, reply.content
    assert len(callbacks) == 1
    # then her window for it exists, from 10 July in Nairobi time, and her invitation is planned
    wave = Wave.objects.get(study=study, key="six-months")
    assert window_of(amira_p, wave) == (
        "scheduled",
        utc(2027, 7, 9, 21),
        utc(2027, 8, 8, 21),
        "Africa/Nairobi",
    )
    assert [(kind, status) for kind, _, _, status in plan_of(amira_p, wave)][:1] == [
        ("invitation", "pending")
    ]


def test_a_retimed_wave_moves_the_windows_of_everyone_not_done_with_it(
    clock: Clock, eager: None, study: Study, amira_p: Participant, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        wave = _new_wave(study, anchor="enrollment", offset_months=6, window_days=30)
    assert window_of(amira_p, wave)[2] == utc(2027, 8, 8, 21)
    # when the window is made 10 days long
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        survey_services.wave_update(wave=wave, window_days=10)
    # then amira's closes 10 days after it opens
    assert len(callbacks) == 1
    assert window_of(amira_p, wave)[1:3] == (utc(2027, 7, 9, 21), utc(2027, 7, 19, 21))


def test_a_change_that_does_not_touch_the_timing_queues_nothing(
    clock: Clock, study: Study, published: QuestionnaireVersion, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks() as created:
        wave = _new_wave(study, anchor="arrival", window_days=30)
    with django_capture_on_commit_callbacks() as renamed:
        survey_services.wave_update(
            wave=wave, name={"en": "Half a year", "sv": "Ett halvår", "ar": "نصف سنة"}, window_days=30,
            questionnaire_version=published,
        )  # fmt: skip
    assert (len(created), len(renamed)) == (1, 0)


def test_a_wave_creation_that_rolls_back_queues_nothing(
    study: Study, django_capture_on_commit_callbacks: Capture
) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            _new_wave(study, anchor="arrival")
            raise RuntimeError("the request failed after the wave was saved")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        create_then_fail()
    assert callbacks == []
    assert not Wave.objects.filter(key="six-months").exists()


def test_the_task_goes_through_a_study_in_batches_requeueing_itself(
    clock: Clock, eager: None, study: Study, site_a: Site, fatima_user: User, consent_text: ConsentText,
    amira_p: Participant, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    # given three participants and batches of one
    others = [person(site_a, fatima_user, consent_text, phone=f"+4670123450{n}") for n in range(2)]
    wave = survey_services.wave_create(
        study=study,
        key="later",
        name={"en": "Later", "sv": "Senare", "ar": "لاحقا"},
        anchor="enrollment",
        offset_days=30,
        window_days=10,
    )  # fmt: skip (its commit is not run: nobody has a row yet)
    monkeypatch.setattr(schedules, "STUDY_SYNC_BATCH", 1)
    # when the task runs once
    with django_capture_on_commit_callbacks(execute=True) as requeued:
        study_schedules_sync.delay(study.pk)
    # then it went on, one batch at a time, until everyone had their row
    assert len(requeued) == 3  # after the 1st, 2nd and 3rd participant; the 4th batch was empty
    assert ParticipantWave.objects.filter(wave=wave).count() == 3
    assert {row.participant_id for row in ParticipantWave.objects.filter(wave=wave)} == {
        amira_p.pk,
        *(other.pk for other in others),
    }


def test_the_task_leaves_answered_and_erased_participants_as_they_are(
    clock: Clock, study: Study, wave: Wave, amira_p: Participant
) -> None:
    ParticipantWave.objects.filter(participant=amira_p, wave=wave).update(status="completed")
    assert study_schedules_sync(study.pk) == 0
    assert schedules.schedules_sync_study(study_id=study.pk + 1000) == (schedules.SyncResult(0, 0, 0), None)


def test_a_reminder_policy_saved_in_the_admin_replans_the_pending_reminders(
    clock: Clock, eager: None, sara_user: User, study: Study, amira_p: Participant,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        wave = _new_wave(study, anchor="enrollment", offset_months=6, window_days=30)
    assert [sequence for kind, sequence, _, _ in plan_of(amira_p, wave) if kind == "reminder"] == [1, 2, 3]
    # when the study admin keeps only one reminder, a week after opening
    policy = ReminderPolicy(
        wave=wave, reminder_days=[7], invitation_text="-", reminder_text="-", last_chance_text="-"
    )
    request = RequestFactory().post("/admin/")
    request.user = sara_user
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        admin.site._registry[ReminderPolicy].save_model(request, policy, form=None, change=False)
    # then amira's plan has one reminder left, 7 days after her window opens
    assert len(callbacks) == 1
    reminders = [
        (sequence, due, status)
        for kind, sequence, due, status in plan_of(amira_p, wave)
        if kind == "reminder"
    ]
    assert [(due, status) for _, due, status in reminders if status == "pending"] == [
        (utc(2027, 7, 9, 21) + datetime.timedelta(days=7), "pending")
    ]


def test_a_wave_retimed_in_the_admin_is_rescheduled_and_a_renamed_one_is_not(
    clock: Clock, eager: None, sara_user: User, study: Study, amira_p: Participant,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        wave = _new_wave(study, anchor="enrollment", offset_months=6, window_days=30)
    wave_admin = admin.site._registry[Wave]
    request = RequestFactory().post("/admin/")
    request.user = sara_user
    with django_capture_on_commit_callbacks(execute=True) as renamed:
        wave_admin.save_model(request, wave, SimpleNamespace(changed_data=["name_en"]), change=True)
    wave.offset_months = 7
    with django_capture_on_commit_callbacks(execute=True) as retimed:
        wave_admin.save_model(request, wave, SimpleNamespace(changed_data=["offset_months"]), change=True)
    assert (len(renamed), len(retimed)) == (0, 1)
    assert window_of(amira_p, wave)[1] == utc(2027, 8, 9, 21)


# --- a lost task ------------------------------------------------------------------------------------------


def test_a_change_whose_task_was_lost_is_queued_again_by_the_periodic_advance(
    clock: Clock, eager: None, study: Study, amira_p: Participant, django_capture_on_commit_callbacks: Capture,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # given a wave added while the broker could not take the task: the change committed, its task never ran
    with django_capture_on_commit_callbacks(execute=False) as lost:
        wave = _new_wave(study, anchor="enrollment", offset_months=6, window_days=30)
    assert len(lost) == 1
    assert not ParticipantWave.objects.filter(participant=amira_p, wave=wave).exists()
    # when the periodic advance runs soon after, then a little after RESYNC_STALE
    schedules_advance()
    queued_early = ParticipantWave.objects.filter(participant=amira_p, wave=wave).exists()
    clock.shift(schedules.RESYNC_STALE + datetime.timedelta(minutes=1))
    schedules_advance()
    # then the first run left a request that might still be on its way alone; the second queued it again,
    # and amira has her window; the request is done
    assert not queued_early
    assert window_of(amira_p, wave)[1] == utc(2027, 7, 9, 21)
    assert not StudyResync.objects.filter(study=study).exists()
    assert (
        f"Schedules of study {study.pk} wait for a resync that no task ran; queued again." in caplog.messages
    )
    # and nothing is queued again once it is done
    clock.shift(schedules.RESYNC_STALE * 2)
    assert schedules.study_resyncs_stale() == []


def test_a_change_made_during_a_pass_keeps_its_request_for_the_next_pass(
    clock: Clock, eager: None, study: Study, site_a: Site, fatima_user: User, consent_text: ConsentText,
    amira_p: Participant, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    # given two participants, batches of one, and a wave whose pass has done its first batch
    person(site_a, fatima_user, consent_text, phone="+46701234509")
    monkeypatch.setattr(schedules, "STUDY_SYNC_BATCH", 1)
    with django_capture_on_commit_callbacks(execute=False):
        wave = _new_wave(study, anchor="enrollment", offset_months=6, window_days=30)
    with django_capture_on_commit_callbacks(execute=False) as rest_of_pass:
        study_schedules_sync.delay(study.pk)
    assert ParticipantWave.objects.filter(wave=wave).count() == 1
    # when the wave is retimed (its own task lost too), then the first pass finishes
    clock.shift(datetime.timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=False):
        survey_services.wave_update(wave=wave, window_days=10)
    retimed_at = clock.now
    with django_capture_on_commit_callbacks(execute=True):
        for callback in rest_of_pass:
            callback()
    # then the request of the newer change stays: the pass began before it, and amira's row may predate it
    assert ParticipantWave.objects.filter(wave=wave).count() == 2
    assert StudyResync.objects.get(study=study).requested_at == retimed_at
    # and a pass that begins after it removes it
    with django_capture_on_commit_callbacks(execute=True):
        study_schedules_sync.delay(study.pk)
    assert window_of(amira_p, wave)[1:3] == (utc(2027, 7, 9, 21), utc(2027, 7, 19, 21))
    assert not StudyResync.objects.filter(study=study).exists()


def test_the_command_does_the_waiting_resync_and_clears_it(
    clock: Clock, study: Study, amira_p: Participant, django_capture_on_commit_callbacks: Capture
) -> None:
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=False):
        wave = _new_wave(study, anchor="enrollment", offset_months=6, window_days=30)
    out = StringIO()

    call_command("sync_schedules", study.slug, stdout=out)

    assert out.getvalue().startswith(f"Schedules of '{study.slug}': 1 created, 0 updated, 0 removed.")
    assert window_of(amira_p, wave)[0] == "scheduled"
    assert not StudyResync.objects.filter(study=study).exists()
