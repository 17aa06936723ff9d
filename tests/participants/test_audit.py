"""The audit log: what lands in it, that it is append-only, that tampering breaks the chain, who reads it."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from register_helpers import API, enroll_body, enroll_url, participant_url
from rest_framework.test import APIClient

from participants.models import AuditEntry, ConsentText, Participant, Site


def _verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue().strip()


def _entries_after(last_pk: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (entry.action, entry.actor.username if entry.actor else "", entry.details)
        for entry in AuditEntry.objects.filter(pk__gt=last_pk).select_related("actor").order_by("pk")
    ]


def _last_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- what is recorded ------------------------------------------------------------------------------------


def test_an_enrollment_is_recorded_with_its_consent_and_contact_change(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # when
    response = fatima.post(enroll_url(site_a), enroll_body(consent_text), format="json")

    # then
    pseudonym = response.json()["participant"]["pseudonym"]
    assert _entries_after(0) == [
        (AuditEntry.Action.CONTACT_CHANGED, "fatima", {"fields": ["name", "email", "preferred_channel", "whatsapp_opt_in"]}),
        (AuditEntry.Action.CONSENT_RECORDED, "fatima", {"consent_version": 1, "method": "read_aloud"}),
        (AuditEntry.Action.ENROLLED, "fatima", {"site": "site-a"}),
    ]  # fmt: skip
    assert set(AuditEntry.objects.values_list("participant", flat=True)) == {pseudonym}
    assert set(AuditEntry.objects.values_list("study_id", flat=True)) == {site_a.study_id}


def _view_contact(client: APIClient, participant: Participant, consent_text: ConsentText) -> Any:
    return client.get(participant_url(participant, "contact/"))


def _record_consent(client: APIClient, participant: Participant, consent_text: ConsentText) -> Any:
    body = {"consent_text": consent_text.pk, "language": "sv", "method": "on_screen"}
    return client.post(participant_url(participant, "consents/"), body, format="json")


def _withdraw(client: APIClient, participant: Participant, consent_text: ConsentText) -> Any:
    return client.post(participant_url(participant, "withdraw/"), {"scope": "stop_contact"}, format="json")


def _reissue(client: APIClient, participant: Participant, consent_text: ConsentText) -> Any:
    return client.post(participant_url(participant, "access-code/"))


@pytest.mark.parametrize(
    ("act", "status", "expected"),
    [
        (_view_contact, 200, [(AuditEntry.Action.CONTACT_VIEWED, "fatima", {})]),
        (_record_consent, 201, [(AuditEntry.Action.CONSENT_RECORDED, "fatima", {"consent_version": 1, "method": "on_screen"})]),
        (_withdraw, 200, [(AuditEntry.Action.WITHDRAWN, "fatima", {"scope": "stop_contact"})]),
        (_reissue, 201, [(AuditEntry.Action.CODE_REISSUED, "fatima", {})]),
    ],
    ids=["contact-view", "consent", "withdrawal", "reissue"],
)  # fmt: skip
def test_each_staff_action_appends_one_entry_with_its_action(
    fatima: APIClient,
    amira_participant: Participant,
    consent_text: ConsentText,
    act: Callable[[APIClient, Participant, ConsentText], Any],
    status: int,
    expected: list[tuple[str, str, dict[str, Any]]],
) -> None:
    # given
    before = _last_pk()

    # when
    response = act(fatima, amira_participant, consent_text)

    # then
    assert response.status_code == status
    assert _entries_after(before) == expected
    assert set(AuditEntry.objects.filter(pk__gt=before).values_list("participant", flat=True)) == {
        amira_participant.pseudonym
    }


def test_a_participant_viewing_her_own_contact_details_is_recorded_as_her(
    amira: APIClient, amira_participant: Participant
) -> None:
    # given
    before = _last_pk()

    # when
    amira.get(f"{API}/me/contact/")

    # then
    entry = AuditEntry.objects.get(pk__gt=before)
    assert (entry.action, entry.actor, entry.actor_participant) == (
        AuditEntry.Action.CONTACT_VIEWED,
        None,
        amira_participant.pseudonym,
    )


def test_a_new_phone_number_is_recorded_as_a_contact_change(
    fatima: APIClient, amira_participant: Participant
) -> None:
    # given
    before = _last_pk()

    # when
    response = fatima.patch(
        participant_url(amira_participant, "contact/"), {"phone": "+46735551234"}, format="json"
    )

    # then
    assert response.status_code == 204
    assert _entries_after(before) == [(AuditEntry.Action.CONTACT_CHANGED, "fatima", {"fields": ["phone"]})]


# --- the chain -------------------------------------------------------------------------------------------


@pytest.fixture
def logged(fatima: APIClient, amira_participant: Participant, consent_text: ConsentText) -> list[int]:
    """A few entries about amira, besides those of her enrollment; their ids, oldest first."""
    _view_contact(fatima, amira_participant, consent_text)
    _record_consent(fatima, amira_participant, consent_text)
    _reissue(fatima, amira_participant, consent_text)
    return list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True))


def test_an_untouched_chain_verifies(logged: list[int]) -> None:
    assert _verify() == f"Audit chain intact: {len(logged)} entries checked."
    assert len(logged) == 6


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", """'{"site": "site-b"}'::jsonb"""),
        ("action", "'participant.edited'"),
        ("participant", "'AAAA-BBBB'"),
        ("at", "at - interval '1 day'"),
    ],
)
def test_editing_an_entry_with_raw_sql_breaks_the_chain_at_that_entry(
    logged: list[int], column: str, value: str
) -> None:
    # given: the model refuses updates, so someone with database access goes around it
    edited = logged[2]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE participants_auditentry SET {column} = {value} WHERE id = %s", [edited])  # noqa: S608

    # when
    with pytest.raises(CommandError) as broken:
        _verify()

    # then
    assert str(broken.value) == (
        f"Audit chain broken at entry #{edited}: its content does not match its hash (entry edited?) "
        "(3 entries checked)."
    )


def test_deleting_an_entry_with_raw_sql_is_detected_at_the_next_one(logged: list[int]) -> None:
    # given
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM participants_auditentry WHERE id = %s", [logged[2]])

    # when
    with pytest.raises(CommandError) as broken:
        _verify()

    # then
    assert str(broken.value) == (
        f"Audit chain broken at entry #{logged[3]}: its link to the previous entry is broken (entry removed?) "
        "(3 entries checked)."
    )


def test_the_model_refuses_to_update_or_delete_entries(logged: list[int]) -> None:
    entry = AuditEntry.objects.get(pk=logged[0])

    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(details={})
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.details = {"edited": True}
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()

    assert AuditEntry.objects.get(pk=logged[0]).details != {"edited": True}
    assert AuditEntry.objects.count() == 6
    assert _verify() == "Audit chain intact: 6 entries checked."


# --- who reads it ----------------------------------------------------------------------------------------


def test_sara_reads_the_audit_log_newest_first(
    sara: APIClient, logged: list[int], amira_participant: Participant, site_a: Site
) -> None:
    # when
    response = sara.get(f"{API}/studies/{site_a.study_id}/audit/")

    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [entry["id"] for entry in results] == sorted(logged, reverse=True)
    assert [entry["action"] for entry in results] == [
        "access.code_reissued", "consent.recorded", "contact.viewed", "participant.enrolled", "consent.recorded",
        "contact.changed",
    ]  # fmt: skip
    assert results[0]["actor"] == "fatima"
    assert results[0]["participant"] == amira_participant.pseudonym
    assert results[0]["previous_hash"] == results[1]["entry_hash"]


def test_the_audit_log_can_be_narrowed_to_one_participant(
    sara: APIClient, logged: list[int], bashir_participant: Participant, site_a: Site
) -> None:
    response = sara.get(
        f"{API}/studies/{site_a.study_id}/audit/", {"participant": bashir_participant.pseudonym}
    )

    assert response.status_code == 200
    assert [entry["action"] for entry in response.json()["results"]] == [
        "participant.enrolled",
        "consent.recorded",
        "contact.changed",
    ]


@pytest.mark.parametrize("persona", ["rita", "fatima", "gustav", "amira", "anon"])
def test_nobody_but_the_study_admin_reads_the_audit_log(
    persona: str, logged: list[int], site_a: Site, request: pytest.FixtureRequest, sara_user: User
) -> None:
    client: APIClient = request.getfixturevalue(persona)

    response = client.get(f"{API}/studies/{site_a.study_id}/audit/")

    assert response.status_code in {401, 403, 404}
    assert "entry_hash" not in response.content.decode()
