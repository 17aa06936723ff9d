"""Leaving the study: contact stops at once; with "erase", contact details and credentials are gone for good."""

from __future__ import annotations

import datetime
import json

from django.contrib.auth.models import User
from django.utils import timezone
from register_helpers import (
    API,
    audit_actions,
    bearer_client,
    enroll_body,
    enroll_url,
    exchange_code,
    link_token,
    participant_url,
)
from rest_framework.test import APIClient

from participants.models import (
    AccessCode,
    AuditEntry,
    ConsentText,
    ContactProfile,
    LinkToken,
    Participant,
    ParticipantToken,
    PhoneNumber,
    Site,
    StatusChange,
    Withdrawal,
)
from participants.services import access, register

PERSONAL = ("Amira", "Haddad", "+46701111111", "701111111")


def _credentials_left(participant: Participant) -> tuple[int, int, int]:
    return (
        AccessCode.objects.filter(participant=participant).count(),
        LinkToken.objects.filter(participant=participant).count(),
        ParticipantToken.objects.filter(participant=participant).count(),
    )


def _contact_left(participant: Participant) -> tuple[int, int]:
    return (
        ContactProfile.objects.filter(participant=participant).count(),
        PhoneNumber.objects.filter(participant=participant).count(),
    )


# --- stop contact ----------------------------------------------------------------------------------------


def test_a_participant_stops_contact_from_her_phone(amira: APIClient, amira_participant: Participant) -> None:
    # when
    response = amira.post(f"{API}/me/withdraw/", {"scope": "stop_contact"}, format="json")

    # then
    assert response.status_code == 204
    amira_participant.refresh_from_db()
    assert amira_participant.status == Participant.Status.WITHDRAWN
    assert amira_participant.contact_stopped_at is not None
    assert amira_participant.may_be_contacted is False
    assert amira_participant.erased_at is None
    withdrawal = Withdrawal.objects.get(participant=amira_participant)
    assert (withdrawal.scope, withdrawal.by_participant, withdrawal.recorded_by) == (
        "stop_contact",
        True,
        None,
    )
    assert withdrawal.requested_at == amira_participant.contact_stopped_at
    assert list(
        StatusChange.objects.filter(participant=amira_participant).values_list("status", flat=True)
    ) == [
        "enrolled",
        "withdrawn",
    ]
    assert _contact_left(amira_participant) == (1, 1)


def test_withdrawing_from_the_phone_revokes_every_token_of_the_participant(
    amira: APIClient, amira_participant: Participant
) -> None:
    # given: a second device
    second_device = access.access_exchange_code(
        typed_code=access.credentials_issue(participant=amira_participant).access_code
    )

    # when
    amira.post(f"{API}/me/withdraw/", {"scope": "stop_contact"}, format="json")

    # then
    assert amira.get(f"{API}/me/").status_code == 401
    assert bearer_client(second_device.token).get(f"{API}/me/").status_code == 401
    assert ParticipantToken.objects.filter(participant=amira_participant, revoked_at=None).count() == 0


def test_the_participants_own_withdrawal_is_audited_as_hers(
    amira: APIClient, amira_participant: Participant
) -> None:
    # when
    amira.post(f"{API}/me/withdraw/", {"scope": "stop_contact"}, format="json")

    # then
    entry = AuditEntry.objects.get(action=AuditEntry.Action.WITHDRAWN)
    assert (entry.actor, entry.actor_participant, entry.participant, entry.details) == (
        None,
        amira_participant.pseudonym,
        amira_participant.pseudonym,
        {"scope": "stop_contact"},
    )


def test_an_unknown_scope_is_refused(amira: APIClient, amira_participant: Participant) -> None:
    response = amira.post(f"{API}/me/withdraw/", {"scope": "pause"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["scope"]
    amira_participant.refresh_from_db()
    assert amira_participant.status == Participant.Status.ENROLLED


# --- erase -----------------------------------------------------------------------------------------------


def test_staff_withdrawal_with_erase_removes_contact_details_and_credentials(
    fatima: APIClient, fatima_user: User, amira: APIClient, amira_participant: Participant
) -> None:
    # given
    access.credentials_issue(participant=amira_participant)
    assert _contact_left(amira_participant) == (1, 1)
    assert _credentials_left(amira_participant) == (3, 3, 1)  # enrollment, amira's login, this one

    # when
    response = fatima.post(
        participant_url(amira_participant, "withdraw/"),
        {"scope": "erase", "reason": "asked by phone"},
        format="json",
    )

    # then
    assert response.status_code == 200
    amira_participant.refresh_from_db()
    assert response.json()["status"] == "withdrawn"
    assert datetime.datetime.fromisoformat(response.json()["erased_at"]) == amira_participant.erased_at
    assert amira_participant.contact_stopped_at is not None
    assert amira_participant.may_be_contacted is False
    assert _contact_left(amira_participant) == (0, 0)
    assert _credentials_left(amira_participant) == (0, 0, 0)
    # the pseudonymous record stays, so earlier answers keep their design variables
    assert Participant.objects.filter(pk=amira_participant.pk).count() == 1


def test_erasure_is_audited_without_personal_data(
    fatima: APIClient, fatima_user: User, amira_participant: Participant
) -> None:
    # when
    fatima.post(participant_url(amira_participant, "withdraw/"), {"scope": "erase"}, format="json")

    # then
    assert audit_actions(participant=amira_participant.pseudonym)[-3:] == [
        AuditEntry.Action.WITHDRAWN,
        AuditEntry.Action.RESPONSES_DELETED,
        AuditEntry.Action.ERASED,
    ]
    withdrawn = AuditEntry.objects.get(action=AuditEntry.Action.WITHDRAWN)
    erased = AuditEntry.objects.get(action=AuditEntry.Action.ERASED)
    assert (withdrawn.actor, withdrawn.details) == (fatima_user, {"scope": "erase"})
    assert (erased.actor, erased.details) == (
        fatima_user,
        {"contact": True, "credentials": True, "responses": 0},
    )
    everything_logged = json.dumps(
        list(AuditEntry.objects.values("details", "participant", "actor_participant"))
    )
    assert [marker for marker in PERSONAL if marker in everything_logged] == []


def test_an_erased_participants_code_link_and_token_no_longer_work(
    fatima: APIClient, amira: APIClient, amira_participant: Participant
) -> None:
    # given
    credentials = access.credentials_issue(participant=amira_participant)

    # when
    fatima.post(participant_url(amira_participant, "withdraw/"), {"scope": "erase"}, format="json")

    # then
    assert exchange_code(credentials.access_code).status_code == 401
    link = APIClient().post(f"{API}/access/link/", {"token": link_token(credentials.link)}, format="json")
    assert link.status_code == 401
    assert amira.get(f"{API}/me/").status_code == 401


def test_a_participant_erases_her_data_from_her_phone(
    amira: APIClient, amira_participant: Participant
) -> None:
    # when
    response = amira.post(f"{API}/me/withdraw/", {"scope": "erase"}, format="json")

    # then
    assert response.status_code == 204
    amira_participant.refresh_from_db()
    assert amira_participant.erased_at is not None
    assert _contact_left(amira_participant) == (0, 0)
    assert _credentials_left(amira_participant) == (0, 0, 0)
    assert audit_actions(participant=amira_participant.pseudonym)[-3:] == [
        "participant.withdrawn",
        "responses.deleted",
        "participant.erased",
    ]


def test_no_new_code_can_be_issued_for_an_erased_participant(
    fatima: APIClient, amira_participant: Participant
) -> None:
    # given
    fatima.post(participant_url(amira_participant, "withdraw/"), {"scope": "erase"}, format="json")

    # when
    response = fatima.post(participant_url(amira_participant, "access-code/"))

    # then
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This participant's data was erased; no access can be issued.",
        "code": "invalid",
    }
    assert _credentials_left(amira_participant) == (0, 0, 0)


def test_an_erased_participants_phone_number_may_be_enrolled_again(
    fatima: APIClient, amira_participant: Participant, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    fatima.post(participant_url(amira_participant, "withdraw/"), {"scope": "erase"}, format="json")

    # when
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text, phone="+46701111111"), format="json")

    # then
    assert response.status_code == 201


def test_the_contact_view_of_an_erased_participant_is_empty(
    fatima: APIClient, amira_participant: Participant
) -> None:
    fatima.post(participant_url(amira_participant, "withdraw/"), {"scope": "erase"}, format="json")

    response = fatima.get(participant_url(amira_participant, "contact/"))

    assert response.status_code == 200
    assert response.json() == {
        "name": "",
        "email": "",
        "phone": "",
        "preferred_channel": "sms",
        "whatsapp_opt_in": False,
        "phones": [],
    }


def test_contact_details_cannot_be_written_back_onto_an_erased_participant(
    fatima: APIClient, amira_participant: Participant
) -> None:
    # given
    fatima.post(participant_url(amira_participant, "withdraw/"), {"scope": "erase"}, format="json")

    # when
    response = fatima.patch(
        participant_url(amira_participant, "contact/"),
        {"name": "Amira Haddad", "phone": "+46735551234"},
        format="json",
    )

    # then
    assert response.status_code == 409
    assert _contact_left(amira_participant) == (0, 0)


# --- the reason given -----------------------------------------------------------------------------------------

REASON = "Her brother Omar Haddad called from +46 70 444 55 66"


def test_the_reason_of_a_withdrawal_is_stored_encrypted_and_goes_with_erasure(
    fatima: APIClient, gustav: APIClient, amira_participant: Participant, bashir_participant: Participant
) -> None:
    # when one withdrawal stops contact and the other erases, both with a reason naming people
    for staff, participant, scope in (
        (fatima, amira_participant, "stop_contact"),
        (gustav, bashir_participant, "erase"),
    ):
        url = participant_url(participant, "withdraw/")
        assert staff.post(url, {"scope": scope, "reason": REASON}, format="json").status_code == 200

    # then no column of the table holds it; the study team can still read amira's
    rows = [json.dumps(row, default=str) for row in Withdrawal.objects.values()]
    assert [row for row in rows if "Omar" in row or "444" in row] == []
    kept, erased = (Withdrawal.objects.get(participant=p) for p in (amira_participant, bashir_participant))
    assert (register.withdrawal_reason(kept), register.withdrawal_reason(erased)) == (REASON, "")


def test_the_migration_encrypts_reasons_stored_before(amira_participant: Participant) -> None:
    # Migrations run inside the test's transaction (PostgreSQL's DDL is transactional), undone with it.
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = ("participants", "0007_submission_envelope_digest")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("participants")
    executor.migrate([before])
    # given a reason stored in plaintext, as before
    old = executor.loader.project_state([before]).apps.get_model("participants", "Withdrawal")
    old.objects.create(
        participant_id=amira_participant.pk, scope="stop_contact", requested_at=timezone.now(), reason=REASON
    )
    with connection.cursor() as cursor:
        # check the deferred foreign keys now: PostgreSQL alters no table with checks pending
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    # when
    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    # then
    withdrawal = Withdrawal.objects.get(participant=amira_participant)
    assert withdrawal.reason_encrypted.startswith("v1.")
    assert register.withdrawal_reason(withdrawal) == REASON
