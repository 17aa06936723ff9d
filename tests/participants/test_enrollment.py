"""Enrolling one participant through the API, and keeping their register entry current afterwards."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from register_helpers import ACCESS_CODE_PATTERN, PSEUDONYM_PATTERN, enroll_body, enroll_url, participant_url
from rest_framework.test import APIClient

from backend.errors import Conflict
from participants.models import (
    AccessCode,
    AuditEntry,
    ConsentText,
    Intervention,
    Participant,
    PhoneNumber,
    Residence,
    Site,
)
from participants.services import contacts, register

# --- enrolling -------------------------------------------------------------------------------------------


def test_fatima_enrolls_a_participant_at_her_site_and_gets_the_credentials_once(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # when
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text), format="json")

    # then
    assert response.status_code == 201
    body = response.json()
    participant = Participant.objects.get()
    assert body["created"] is True
    assert re.fullmatch(PSEUDONYM_PATTERN, body["participant"]["pseudonym"])
    assert body["participant"] == {
        "pseudonym": participant.pseudonym, "study": site_a.study_id, "site": "site-a", "cohort": None,
        "preferred_language": "ar", "country_of_origin": "SY", "country_of_departure": "KE", "birth_year": 1990,
        "gender": None, "enrolled_on": "2026-01-15", "planned_departure_on": "2026-03-01", "arrived_on": None,
        "status": "enrolled", "contact_stopped_at": None, "erased_at": None,
    }  # fmt: skip
    credentials = body["credentials"]
    assert sorted(credentials) == ["access_code", "link", "qr_png", "qr_svg"]
    assert re.fullmatch(ACCESS_CODE_PATTERN, credentials["access_code"])
    assert credentials["link"].startswith(f"{settings.PARTICIPANT_APP_URL}#token=")
    assert len(credentials["link"]) == len(settings.PARTICIPANT_APP_URL) + len("#token=") + 43
    assert credentials["qr_svg"].startswith("<svg")
    assert credentials["qr_svg"].rstrip().endswith("</svg>")
    assert credentials["qr_png"].startswith("data:image/png;base64,")
    assert AccessCode.objects.filter(participant=participant, revoked_at=None).count() == 1


def test_the_access_code_from_enrollment_opens_the_participants_own_session(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    enrolled = fatima.post(enroll_url(site_a), enroll_body(consent_text), format="json").json()

    # when
    response = APIClient().post(
        "/api/v1/access/code/", {"code": enrolled["credentials"]["access_code"]}, format="json"
    )

    # then
    assert response.status_code == 200
    assert response.json()["pseudonym"] == enrolled["participant"]["pseudonym"]


def test_fatima_cannot_enroll_at_a_site_she_does_not_work_at(
    fatima: APIClient, site_b: Site, consent_text: ConsentText
) -> None:
    response = fatima.post(enroll_url(site_b), enroll_body(consent_text), format="json")

    assert response.status_code == 404
    assert Participant.objects.count() == 0


def test_a_retried_enrollment_returns_the_first_participant_without_credentials_and_creates_nothing(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    body = enroll_body(consent_text, request_id=str(uuid.uuid4()))
    first = fatima.post(enroll_url(site_a), body, format="json")
    counts_before = (Participant.objects.count(), PhoneNumber.objects.count(), AuditEntry.objects.count())

    # when
    retry = fatima.post(enroll_url(site_a), body, format="json")

    # then
    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json()["created"] is False
    assert retry.json()["credentials"] is None
    assert retry.json()["participant"] == first.json()["participant"]
    assert counts_before == (1, 1, 3)  # enrolled, consent recorded, contact set
    assert (Participant.objects.count(), PhoneNumber.objects.count(), AuditEntry.objects.count()) == (1, 1, 3)
    assert AccessCode.objects.count() == 1


def test_a_request_id_used_at_another_site_does_not_hand_over_that_sites_participant(
    fatima: APIClient, gustav: APIClient, site_a: Site, site_b: Site, consent_text: ConsentText
) -> None:
    # given
    request_id = str(uuid.uuid4())
    at_site_b = gustav.post(
        enroll_url(site_b), enroll_body(consent_text, request_id=request_id, consent={
            "consent_text": consent_text.pk, "language": "ar", "method": "on_screen"}), format="json",
    ).json()["participant"]  # fmt: skip

    # when
    response = fatima.post(
        enroll_url(site_a),
        enroll_body(consent_text, request_id=request_id, phone="+46703030303"),
        format="json",
    )

    # then
    assert response.status_code == 409
    assert at_site_b["pseudonym"] not in response.content.decode()


# --- refused input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "same_number",
    [
        "+46701111111",
        "+46 70-111 11 11",
        "+46 (0)70 111 11 11",
        " +46 70 111 1111 ",
        pytest.param(
            "0046 70-111 11 11",
        ),
    ],
)
def test_a_phone_number_enrolled_already_is_refused_whatever_its_format(
    fatima: APIClient,
    site_a: Site,
    consent_text: ConsentText,
    amira_participant: Participant,
    same_number: str,
) -> None:
    # given amira has +46701111111

    # when
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text, phone=same_number), format="json")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This phone number is already enrolled in this study.",
        "code": "conflict",
        "field": "phone",
    }
    assert Participant.objects.count() == 1


def test_a_number_in_national_format_with_its_region_is_the_same_number(
    amira_participant: Participant,
) -> None:
    # when
    e164 = contacts.normalize_phone("070-111 11 11", default_region="SE")

    # then
    assert e164 == "+46701111111"
    with pytest.raises(Conflict) as refused:
        contacts.check_phone_free(study_id=amira_participant.study_id, e164=e164)
    assert refused.value.field == "phone"


def _in_days(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "+46 70 12"}, "phone"),
        ({"phone": "call me maybe"}, "phone"),
        ({"phone": "", "email": ""}, "phone"),
        ({"email": "zzyzx at example"}, "email"),
        ({"country_of_origin": "XX"}, "country_of_origin"),
        ({"country_of_departure": "ke"}, "country_of_departure"),
        ({"enrolled_on": _in_days(3), "planned_departure_on": None}, "enrolled_on"),
        ({"planned_departure_on": "2026-01-01"}, "planned_departure_on"),
        ({"cohort": "no-such-cohort"}, "cohort"),
        ({"gender": "no-such-gender"}, "gender"),
        ({"birth_year": 2099}, "birth_year"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value),
)
def test_invalid_enrollment_input_is_refused_naming_the_field(
    fatima: APIClient, site_a: Site, consent_text: ConsentText, overrides: dict[str, Any], field: str
) -> None:
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text, **overrides), format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Participant.objects.count() == 0


def test_consent_read_aloud_without_a_witness_is_refused(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    consent = {"consent_text": consent_text.pk, "language": "ar", "method": "read_aloud"}

    # when
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text, consent=consent), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Consent read aloud must name the staff member who witnessed it.",
        "code": "invalid",
        "field": "witnessed_by",
    }
    assert Participant.objects.count() == 0


@pytest.mark.parametrize(
    ("consent_change", "path"),
    [
        ({"method": "by_carrier_pigeon"}, "method"),
        ({"consent_text": 999_999}, "consent_text"),
        ({"language": "xx"}, "language"),
        ({"witnessed_by": "nobody-by-that-name"}, "witnessed_by"),
    ],
)
def test_a_malformed_consent_is_refused_naming_the_consent_field(
    fatima: APIClient, site_a: Site, consent_text: ConsentText, consent_change: dict[str, Any], path: str
) -> None:
    # given
    consent = {"consent_text": consent_text.pk, "language": "ar", "method": "on_screen", **consent_change}

    # when
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text, consent=consent), format="json")

    # then
    assert response.status_code == 400
    assert list(response.json()["consent"]) == [path]
    assert Participant.objects.count() == 0


def test_a_study_defined_gender_and_cohort_are_recorded(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    site_a.cohorts.create(
        study=site_a.study, code="nbo-2026-03", planned_departure_on=datetime.date(2026, 3, 9)
    )

    # when
    response = fatima.post(
        enroll_url(site_a),
        enroll_body(consent_text, gender="woman", cohort="nbo-2026-03", planned_departure_on=None),
        format="json",
    )

    # then
    assert response.status_code == 201
    participant = response.json()["participant"]
    assert (participant["gender"], participant["cohort"], participant["planned_departure_on"]) == (
        "woman",
        "nbo-2026-03",
        "2026-03-09",
    )


def test_a_cohort_of_another_site_is_refused(
    fatima: APIClient, site_a: Site, site_b: Site, consent_text: ConsentText
) -> None:
    # given
    site_b.cohorts.create(
        study=site_b.study, code="amm-2026-04", planned_departure_on=datetime.date(2026, 4, 2)
    )

    # when
    response = fatima.post(
        enroll_url(site_a),
        enroll_body(consent_text, cohort="amm-2026-04", planned_departure_on=None),
        format="json",
    )

    # then
    assert response.status_code == 400
    assert response.json()["field"] == "cohort"
    assert Participant.objects.count() == 0


# --- the register over time ------------------------------------------------------------------------------


def test_a_new_swedish_number_is_the_one_messages_go_to_and_the_old_one_stays_in_the_history(
    fatima: APIClient, amira_participant: Participant
) -> None:
    # given
    enrolled_on = amira_participant.enrolled_on
    arrived_on = enrolled_on + datetime.timedelta(days=1)

    # when
    changed = fatima.patch(
        participant_url(amira_participant, "contact/"),
        {"phone": "+46 73 555 12 34", "phone_valid_from": arrived_on.isoformat()},
        format="json",
    )

    # then
    assert changed.status_code == 204
    contact = fatima.get(participant_url(amira_participant, "contact/")).json()
    assert contact["phone"] == "+46735551234"
    assert contact["phones"] == [
        {"number": "+46735551234", "valid_from": arrived_on.isoformat(), "confirmed": True, "current": True},
        {"number": "+46701111111", "valid_from": enrolled_on.isoformat(), "confirmed": True, "current": True},
    ]
    assert PhoneNumber.objects.filter(participant=amira_participant).count() == 2


def test_a_number_of_another_participant_cannot_be_added(
    fatima: APIClient, amira_participant: Participant, bashir_participant: Participant
) -> None:
    response = fatima.patch(
        participant_url(amira_participant, "contact/"), {"phone": "+46702222222"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["field"] == "phone"
    assert PhoneNumber.objects.filter(participant=amira_participant).count() == 1


def test_a_contact_change_refused_in_part_changes_nothing(
    fatima: APIClient, amira: APIClient, amira_participant: Participant
) -> None:
    # when staff add a number with a malformed e-mail address, and amira changes her language with a bad number
    by_staff = fatima.patch(
        participant_url(amira_participant, "contact/"),
        {"phone": "+46701231234", "email": "nope"},
        format="json",
    )
    by_amira = amira.patch("/api/v1/me/", {"preferred_language": "sv", "phone": "not a phone"}, format="json")

    # then both are refused naming the field, and neither the number nor the language was kept
    assert [
        (by_staff.status_code, by_staff.json()["field"]),
        (by_amira.status_code, by_amira.json()["field"]),
    ] == [
        (400, "email"),
        (400, "phone"),
    ]
    assert PhoneNumber.objects.filter(participant=amira_participant).count() == 1
    amira_participant.refresh_from_db()
    assert amira_participant.preferred_language == "ar"


def test_a_participant_change_with_a_refused_status_changes_nothing(
    fatima: APIClient, amira_participant: Participant
) -> None:
    # when staff correct the birth year and, in the same request, mark an enrolled participant completed
    response = fatima.patch(
        participant_url(amira_participant), {"birth_year": 1980, "status": "completed"}, format="json"
    )
    # then the status change is refused, and the birth year was not kept either
    assert (response.status_code, response.json()["field"]) == (409, "status")
    before = amira_participant.birth_year
    amira_participant.refresh_from_db()
    assert (amira_participant.birth_year, amira_participant.status) == (before, "enrolled")
    assert before != 1980


def test_fatima_reads_the_contact_details_she_enrolled(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    body = enroll_body(
        consent_text, name="Layla Nasser", email="Layla.N@Example.ORG", preferred_channel="email"
    )
    pseudonym = fatima.post(enroll_url(site_a), body, format="json").json()["participant"]["pseudonym"]

    # when
    response = fatima.get(f"/api/v1/participants/{pseudonym}/contact/")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "name": "Layla Nasser",
        "email": "Layla.N@example.org",
        "phone": "+46701234567",
        "preferred_channel": "email",
        "whatsapp_opt_in": False,
        "phones": [
            {"number": "+46701234567", "valid_from": "2026-01-15", "confirmed": True, "current": True}
        ],
    }


def test_arrival_residence_and_intervention_are_recorded(
    fatima: APIClient, rita: APIClient, amira_participant: Participant
) -> None:
    # given
    arrived_on = amira_participant.enrolled_on + datetime.timedelta(days=1)
    moved_in_on = arrived_on + datetime.timedelta(days=1)

    # when
    arrived = fatima.patch(
        participant_url(amira_participant), {"arrived_on": arrived_on.isoformat()}, format="json"
    )
    moved = fatima.post(
        participant_url(amira_participant, "residences/"),
        {"municipality": "0180", "moved_in_on": moved_in_on.isoformat()},
        format="json",
    )
    started = fatima.post(
        participant_url(amira_participant, "interventions/"),
        {"type": "sfi", "started_on": moved_in_on.isoformat()},
        format="json",
    )

    # then
    assert arrived.status_code == 200
    assert arrived.json()["arrived_on"] == arrived_on.isoformat()
    assert moved.status_code == 201
    assert moved.json() == {"municipality": "0180", "moved_in_on": moved_in_on.isoformat()}
    assert started.status_code == 201
    residence = Residence.objects.get(participant=amira_participant)
    assert (residence.municipality.code, residence.municipality.name, residence.moved_in_on) == (
        "0180",
        "Stockholm",
        moved_in_on,
    )
    assert register.municipality_on(amira_participant, arrived_on) is None
    assert register.municipality_on(amira_participant, moved_in_on) == residence.municipality
    intervention = Intervention.objects.get(participant=amira_participant)
    assert (intervention.type.code, intervention.started_on, intervention.ended_on, intervention.source) == (
        "sfi",
        moved_in_on,
        None,
        "staff",
    )
    panel = rita.get(f"/api/v1/studies/{amira_participant.study_id}/panel/").json()["results"]
    assert panel[0]["arrived_on"] == arrived_on.isoformat()
    assert panel[0]["residences"] == [{"municipality": "0180", "moved_in_on": moved_in_on.isoformat()}]
    assert panel[0]["interventions"] == [
        {"type": "sfi", "started_on": moved_in_on.isoformat(), "ended_on": None, "source": "staff"}
    ]


def test_an_unknown_municipality_code_is_refused(fatima: APIClient, amira_participant: Participant) -> None:
    response = fatima.post(
        participant_url(amira_participant, "residences/"),
        {"municipality": "0999", "moved_in_on": amira_participant.enrolled_on.isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "'0999' is not a Swedish municipality code (SCB).",
        "code": "invalid",
        "field": "municipality",
    }
    assert Residence.objects.count() == 0


def test_a_municipality_code_must_have_four_digits(fatima: APIClient, amira_participant: Participant) -> None:
    response = fatima.post(
        participant_url(amira_participant, "residences/"),
        {"municipality": "180", "moved_in_on": amira_participant.enrolled_on.isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["municipality"]
    assert Residence.objects.count() == 0


def test_a_residence_cannot_start_before_arrival(fatima: APIClient, amira_participant: Participant) -> None:
    # given
    arrived_on = amira_participant.enrolled_on + datetime.timedelta(days=1)
    fatima.patch(participant_url(amira_participant), {"arrived_on": arrived_on.isoformat()}, format="json")

    # when
    response = fatima.post(
        participant_url(amira_participant, "residences/"),
        {"municipality": "0180", "moved_in_on": amira_participant.enrolled_on.isoformat()},
        format="json",
    )

    # then
    assert response.status_code == 400
    assert response.json()["field"] == "moved_in_on"
    assert Residence.objects.count() == 0


def test_an_arrival_before_enrollment_is_refused(fatima: APIClient, amira_participant: Participant) -> None:
    day_before = amira_participant.enrolled_on - datetime.timedelta(days=1)

    response = fatima.patch(
        participant_url(amira_participant), {"arrived_on": day_before.isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "arrived_on"
    amira_participant.refresh_from_db()
    assert amira_participant.arrived_on is None


def test_an_arrival_date_in_the_future_is_refused(fatima: APIClient, amira_participant: Participant) -> None:
    next_month = timezone.localdate() + datetime.timedelta(days=30)

    response = fatima.patch(
        participant_url(amira_participant), {"arrived_on": next_month.isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "arrived_on"


def test_gustav_cannot_change_a_participant_of_site_a(
    gustav: APIClient, amira_participant: Participant, gustav_user: User
) -> None:
    arrived_on = amira_participant.enrolled_on.isoformat()

    response = gustav.patch(participant_url(amira_participant), {"arrived_on": arrived_on}, format="json")

    assert response.status_code == 404
    amira_participant.refresh_from_db()
    assert amira_participant.arrived_on is None
