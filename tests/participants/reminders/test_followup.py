"""Follow-up lists for field staff (GET /sites/<id>/follow-up/) and retention tables
(GET /sites/<id>/retention/, GET /studies/<id>/retention/): exact rows and counts, and who sees what.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from participants.models import ConsentText, Participant, PhoneNumber, Reminder, Site
from participants.services import access, register
from participants.tasks import schedules_advance
from surveys.models import Study, Wave
from tests.participants.reminders.conftest import (
    API,
    Clock,
    arrive,
    cohort_create,
    complete_wave,
    make_wave,
    person,
    reminder_of,
    utc,
)

FIELDS = {"wave", "group", "scheduled", "invited", "completed", "missed", "withdrawn", "response_rate"}


def follow_up_url(site: Site) -> str:
    return f"{API}/sites/{site.pk}/follow-up/"


def _instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).astimezone(datetime.UTC)


def _rows(answer: Any) -> list[tuple[Any, ...]]:
    return [
        (row["pseudonym"], row["cohort"], row["wave"], row["status"], _instant(row["opens_at"]),
         _instant(row["closes_at"]), row["state"], row["failed_reminders"])
        for row in answer.json()
    ]  # fmt: skip


def _table(answer: Any) -> list[tuple[Any, ...]]:
    assert all(set(row) == FIELDS for row in answer.json())
    return [
        (row["wave"], row["group"], row["scheduled"], row["invited"], row["completed"], row["missed"],
         row["withdrawn"], row["response_rate"])
        for row in answer.json()
    ]  # fmt: skip


# --- follow-up ----------------------------------------------------------------------------------------------


@pytest.fixture
def site_a_panel(
    clock: Clock, wave: Wave, study_key: object, site_a: Site, fatima_user: User, consent_text: ConsentText,
    amira_p: Participant,
) -> dict[str, Participant]:  # fmt: skip
    """Nairobi's participants on 11 January 2027, each in a different follow-up state for the pre-departure wave."""

    def enroll(phone: str = "", email: str = "", day: int = 10, **extra: Any) -> Participant:
        return person(
            site_a, fatima_user, consent_text, phone=phone, email=email, enrolled_on=datetime.date(2027, 1, day),
            **extra,
        )  # fmt: skip

    cohort_create(site_a, "nbo-1")
    panel = {
        "amira": amira_p,  # opened a day and a half ago: due
        "early": enroll("+46703000001", day=1, cohort="nbo-1"),  # opened 10 days ago: overdue
        "failing": enroll("+46703000002", day=5),  # a reminder failed: unreachable
        "silent": enroll("+46703000003", day=8),  # no confirmed phone, no e-mail: unreachable
        "mail_only": enroll(email="mail.only@example.org", day=9),  # no phone, but e-mail: due
        "done": enroll("+46703000004"),  # completed: not listed
        "gone": enroll("+46703000005"),  # withdrew: not listed
    }
    failed = reminder_of(panel["failing"], wave, "invitation")
    Reminder.objects.filter(pk=failed.pk).update(status="failed", outcome="sms failed: number not in service")
    PhoneNumber.objects.filter(participant=panel["silent"]).update(confirmed_at=None)
    complete_wave(panel["done"], wave)
    register.participant_withdraw(participant=panel["gone"], scope="stop_contact")
    return panel


def test_field_staff_see_their_sites_open_waves_as_due_overdue_or_unreachable(
    site_a: Site, site_a_panel: dict[str, Participant], bashir_participant: Participant, fatima: APIClient
) -> None:
    answer = fatima.get(follow_up_url(site_a))
    assert answer.status_code == 200
    p = {name: participant.pseudonym for name, participant in site_a_panel.items()}
    # soonest closing first
    assert _rows(answer) == [
        (
            p["early"],
            "nbo-1",
            "pre-departure",
            "open",
            utc(2026, 12, 31, 21),
            utc(2027, 3, 1, 21),
            "overdue",
            0,
        ),
        (
            p["failing"],
            "",
            "pre-departure",
            "open",
            utc(2027, 1, 4, 21),
            utc(2027, 3, 5, 21),
            "unreachable",
            1,
        ),
        (
            p["silent"],
            "",
            "pre-departure",
            "open",
            utc(2027, 1, 7, 21),
            utc(2027, 3, 8, 21),
            "unreachable",
            0,
        ),
        (p["mail_only"], "", "pre-departure", "open", utc(2027, 1, 8, 21), utc(2027, 3, 9, 21), "due", 0),
        (p["amira"], "", "pre-departure", "open", utc(2027, 1, 9, 21), utc(2027, 3, 10, 21), "due", 0),
    ]
    assert bashir_participant.pseudonym not in answer.content.decode()


def test_a_wave_open_exactly_seven_days_is_still_due(
    clock: Clock, site_a: Site, site_a_panel: dict[str, Participant], fatima: APIClient
) -> None:
    clock.move_to(utc(2027, 1, 16, 21))  # amira's window opened 7 days ago, to the second
    states = {row["pseudonym"]: row["state"] for row in fatima.get(follow_up_url(site_a)).json()}
    assert states[site_a_panel["amira"].pseudonym] == "due"
    clock.move_to(utc(2027, 1, 16, 21, 0, 1))
    states = {row["pseudonym"]: row["state"] for row in fatima.get(follow_up_url(site_a)).json()}
    assert states[site_a_panel["amira"].pseudonym] == "overdue"


def test_a_window_that_has_not_opened_or_has_closed_is_not_followed_up(
    clock: Clock, site_a: Site, site_a_panel: dict[str, Participant], fatima: APIClient
) -> None:
    clock.move_to(utc(2027, 3, 8, 21))  # early's, failing's and silent's windows have closed
    names = [row["pseudonym"] for row in fatima.get(follow_up_url(site_a)).json()]
    assert names == [site_a_panel["mail_only"].pseudonym, site_a_panel["amira"].pseudonym]


def test_gustavs_participants_never_appear_in_fatimas_list_nor_hers_in_his(
    clock: Clock, wave: Wave, site_a: Site, site_b: Site, amira_p: Participant, gustav_user: User,
    consent_text: ConsentText, fatima: APIClient, gustav: APIClient,
) -> None:  # fmt: skip
    bashir = person(site_b, gustav_user, consent_text, phone="+46702222222")
    assert [row["pseudonym"] for row in fatima.get(follow_up_url(site_a)).json()] == [amira_p.pseudonym]
    assert [row["pseudonym"] for row in gustav.get(follow_up_url(site_b)).json()] == [bashir.pseudonym]
    assert gustav.get(follow_up_url(site_a)).status_code == 404
    assert fatima.get(follow_up_url(site_b)).status_code == 404


def test_the_follow_up_list_is_for_staff_of_the_site_only(
    clock: Clock, site_a: Site, amira_p: Participant, rita: APIClient, anon: APIClient
) -> None:
    issued = access.access_exchange_code(typed_code=access.credentials_issue(participant=amira_p).access_code)
    amira = APIClient()
    amira.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert rita.get(follow_up_url(site_a)).status_code == 404
    assert anon.get(follow_up_url(site_a)).status_code == 401
    assert amira.get(follow_up_url(site_a)).status_code == 403


def test_the_follow_up_list_takes_the_same_number_of_queries_for_a_bigger_site(
    clock: Clock, wave: Wave, site_a: Site, fatima_user: User, consent_text: ConsentText, fatima: APIClient
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert fatima.get(follow_up_url(site_a)).status_code == 200
        return len(captured)

    for n in range(2):
        person(site_a, fatima_user, consent_text, phone=f"+4670300001{n}")
    small = queries()
    for n in range(2, 8):
        person(site_a, fatima_user, consent_text, phone=f"+4670300001{n}")
    assert queries() == small


# --- retention ----------------------------------------------------------------------------------------------


@pytest.fixture
def panel(
    clock: Clock, study: Study, wave: Wave, arrival_wave: Wave, study_key: object, site_a: Site, site_b: Site,
    fatima_user: User, gustav_user: User, consent_text: ConsentText,
) -> dict[str, Participant]:  # fmt: skip
    """Five people enrolled on 10 January 2027, leaving on 1 February; on 7 March:

    pre-departure: p1 (c1) and p3 (c2) completed, p2 (c1) and b1 (Amman) missed, p4 (c2) withdrew on day one.
    arrival: p1 arrived 3 Feb in Stockholm (0180) and missed it; p3 arrived 10 Feb in Gothenburg (1480) and
    completed it; p2 arrived 6 March (open, no residence yet). p4 and b1 have no arrival date.
    six-months (6 months after arrival): scheduled for p1, p2 and p3, not opened yet.
    """
    make_wave(study, "six-months", anchor="arrival", offset_months=6, window_days=30)
    cohort_create(site_a, "c1")
    cohort_create(site_a, "c2")
    departure = {"planned_departure_on": datetime.date(2027, 2, 1)}
    people = {
        "p1": person(site_a, fatima_user, consent_text, phone="+46703000001", cohort="c1", **departure),
        "p2": person(site_a, fatima_user, consent_text, phone="+46703000002", cohort="c1", **departure),
        "p3": person(site_a, fatima_user, consent_text, phone="+46703000003", cohort="c2", **departure),
        "p4": person(site_a, fatima_user, consent_text, phone="+46703000004", cohort="c2", **departure),
        "b1": person(site_b, gustav_user, consent_text, phone="+46703000005", **departure),
    }
    complete_wave(people["p1"], wave)
    complete_wave(people["p3"], wave)
    register.participant_withdraw(participant=people["p4"], scope="stop_contact")
    clock.move_to(utc(2027, 2, 4, 9))
    schedules_advance()
    arrive(people["p1"], datetime.date(2027, 2, 3))
    register.residence_record(
        participant=people["p1"], municipality_code="0180", moved_in_on=datetime.date(2027, 2, 3), by=None
    )
    clock.move_to(utc(2027, 2, 11, 9))
    arrive(people["p3"], datetime.date(2027, 2, 10))
    register.residence_record(
        participant=people["p3"], municipality_code="1480", moved_in_on=datetime.date(2027, 2, 10), by=None
    )
    complete_wave(people["p3"], arrival_wave)
    clock.move_to(utc(2027, 3, 7, 9))
    arrive(people["p2"], datetime.date(2027, 3, 6))
    schedules_advance()
    return people


def test_site_retention_by_cohort_counts_each_waves_outcomes(
    site_a: Site, panel: dict[str, Participant], fatima: APIClient
) -> None:
    answer = fatima.get(f"{API}/sites/{site_a.pk}/retention/", {"by": "cohort"})
    assert answer.status_code == 200
    assert _table(answer) == [
        # wave, group, scheduled, invited, completed, missed, withdrawn, response_rate
        ("pre-departure", "c1", 2, 2, 1, 1, 0, 0.5),
        ("pre-departure", "c2", 2, 2, 1, 0, 1, 0.5),
        ("arrival", "c1", 2, 2, 0, 1, 0, 0.0),
        ("arrival", "c2", 1, 1, 1, 0, 0, 1.0),
        ("six-months", "c1", 2, 0, 0, 0, 0, None),
        ("six-months", "c2", 1, 0, 0, 0, 0, None),
    ]


def test_study_retention_by_municipality_groups_by_where_people_lived_when_the_wave_opened(
    study: Study, panel: dict[str, Participant], rita: APIClient
) -> None:
    answer = rita.get(f"{API}/studies/{study.pk}/retention/", {"by": "municipality"})
    assert answer.status_code == 200
    assert _table(answer) == [
        ("pre-departure", "(none)", 5, 5, 2, 2, 1, 0.4),
        ("arrival", "0180", 1, 1, 0, 1, 0, 0.0),
        ("arrival", "1480", 1, 1, 1, 0, 0, 1.0),
        ("arrival", "(none)", 1, 1, 0, 0, 0, 0.0),
        ("six-months", "0180", 1, 0, 0, 0, 0, None),
        ("six-months", "1480", 1, 0, 0, 0, 0, None),
        ("six-months", "(none)", 1, 0, 0, 0, 0, None),
    ]


def test_study_retention_by_site_and_by_wave(
    study: Study, panel: dict[str, Participant], rita: APIClient
) -> None:
    by_site = rita.get(f"{API}/studies/{study.pk}/retention/", {"by": "site"})
    by_wave = rita.get(f"{API}/studies/{study.pk}/retention/")
    assert _table(by_site) == [
        ("pre-departure", "site-a", 4, 4, 2, 1, 1, 0.5),
        ("pre-departure", "site-b", 1, 1, 0, 1, 0, 0.0),
        ("arrival", "site-a", 3, 3, 1, 1, 0, 0.3333),
        ("six-months", "site-a", 3, 0, 0, 0, 0, None),
    ]
    assert _table(by_wave) == [
        ("pre-departure", "all", 5, 5, 2, 2, 1, 0.4),
        ("arrival", "all", 3, 3, 1, 1, 0, 0.3333),
        ("six-months", "all", 3, 0, 0, 0, 0, None),
    ]


def test_a_window_that_ended_counts_as_missed_before_the_periodic_task_marked_it(
    clock: Clock, study: Study, panel: dict[str, Participant], rita: APIClient
) -> None:
    # p2's arrival window (6 March - 4 April) closes at midnight in Stockholm; schedules_advance has not run
    closes = utc(2027, 4, 4, 22)
    clock.move_to(closes - datetime.timedelta(microseconds=1))
    assert _table(rita.get(f"{API}/studies/{study.pk}/retention/"))[1] == (
        "arrival",
        "all",
        3,
        3,
        1,
        1,
        0,
        0.3333,
    )
    clock.move_to(closes)
    assert _table(rita.get(f"{API}/studies/{study.pk}/retention/"))[1] == (
        "arrival",
        "all",
        3,
        3,
        1,
        2,
        0,
        0.3333,
    )


def test_retention_shows_counts_only_never_pseudonyms(
    study: Study, site_a: Site, panel: dict[str, Participant], rita: APIClient, fatima: APIClient
) -> None:
    bodies = [
        rita.get(f"{API}/studies/{study.pk}/retention/", {"by": by}).content.decode()
        for by in ("wave", "cohort", "site", "municipality")
    ]
    bodies.append(fatima.get(f"{API}/sites/{site_a.pk}/retention/", {"by": "cohort"}).content.decode())
    for participant in panel.values():
        assert all(participant.pseudonym not in body for body in bodies)


@pytest.mark.parametrize("by", ["pseudonym", "", "COHORT", "participant__pseudonym"])
def test_an_unknown_grouping_is_refused_naming_the_field(
    study: Study, site_a: Site, panel: dict[str, Participant], rita: APIClient, fatima: APIClient, by: str
) -> None:
    for answer in (
        rita.get(f"{API}/studies/{study.pk}/retention/", {"by": by}),
        fatima.get(f"{API}/sites/{site_a.pk}/retention/", {"by": by}),
    ):
        assert answer.status_code == 400
        assert answer.json()["field"] == "by"


def test_retention_is_for_the_sites_staff_and_the_studys_researchers(
    study: Study, site_a: Site, panel: dict[str, Participant], rita: APIClient, fatima: APIClient,
    gustav: APIClient, outsider: APIClient, anon: APIClient,
) -> None:  # fmt: skip
    assert rita.get(f"{API}/sites/{site_a.pk}/retention/").status_code == 404
    assert gustav.get(f"{API}/sites/{site_a.pk}/retention/").status_code == 404
    assert fatima.get(f"{API}/studies/{study.pk}/retention/").status_code == 404
    assert outsider.get(f"{API}/studies/{study.pk}/retention/").status_code == 404
    assert anon.get(f"{API}/studies/{study.pk}/retention/").status_code in (401, 403)


def test_gustavs_site_retention_counts_only_his_participants(
    site_b: Site, panel: dict[str, Participant], gustav: APIClient
) -> None:
    answer = gustav.get(f"{API}/sites/{site_b.pk}/retention/", {"by": "site"})
    assert _table(answer) == [("pre-departure", "site-b", 1, 1, 0, 1, 0, 0.0)]


def test_someone_who_withdrew_before_a_wave_opened_was_not_invited_to_it(
    clock: Clock, study: Study, study_key: object, published: Any, site_a: Site, fatima_user: User,
    consent_text: ConsentText, rita: APIClient,
) -> None:  # fmt: skip
    # given a wave a month after enrollment; one person withdraws on day one, the other answers it
    month = make_wave(
        study, "one-month", anchor="enrollment", offset_days=30, window_days=10, version=published
    )
    leaver = person(site_a, fatima_user, consent_text, phone="+46703000001")
    stayer = person(site_a, fatima_user, consent_text, phone="+46703000002")
    register.participant_withdraw(participant=leaver, scope="stop_contact")
    clock.move_to(utc(2027, 2, 10, 9))
    complete_wave(stayer, month)
    # when
    answer = rita.get(f"{API}/studies/{study.pk}/retention/")
    # then only the one still in the panel when it opened was invited
    assert _table(answer) == [("one-month", "all", 2, 1, 1, 0, 1, 1.0)]
