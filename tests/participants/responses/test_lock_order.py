"""A submission takes its locks in the order every other writer of the participant does: participant first.

Withdrawal and date changes lock the participant's row, then their schedule rows (``schedules_sync``). A page
that locked the schedule row first and then waited for the participant would deadlock with them, and
PostgreSQL would abort one of the two: a 500 for the phone, or a failed withdrawal.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from participants.models import Participant, Response
from participants.services.register import participant_withdraw
from surveys.models import Wave
from tests.participants.responses.conftest import answers_url, bearer_client, page_body, token_for

FAMILY = {"Q1": "2", "Q49": 6}


def _wait_for_a_lock_waiter(timeout: float = 10.0) -> None:
    """Until another connection of this database waits for a lock (the page, blocked by our row lock)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else one snapshot serves the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the page never waited for the participant's lock")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_page_arriving_during_a_withdrawal_waits_for_it_and_is_then_refused_cleanly(
    wave: Wave, study_key: Any, amira_participant: Participant
) -> None:
    # given a phone about to send a first page
    token = token_for(amira_participant)
    replies: list[Any] = []

    def send() -> None:
        try:
            replies.append(
                bearer_client(token).post(answers_url(wave), page_body("family", FAMILY), format="json")
            )
        finally:
            connections.close_all()

    # when the page arrives while a withdrawal holds the participant's row, and the withdrawal then goes on to
    # lock the schedule rows
    with transaction.atomic():
        Participant.objects.select_for_update().get(pk=amira_participant.pk)
        page = threading.Thread(target=send)
        page.start()
        _wait_for_a_lock_waiter()
        participant_withdraw(participant=amira_participant, scope="stop_contact")
    page.join(timeout=30)
    # then the withdrawal went through and the page, which waited for it, is refused for what happened
    assert len(replies) == 1
    assert replies[0].status_code == 409, replies[0].content[:300]
    assert replies[0].json()["code"] == "not_answerable"
    assert Participant.objects.get(pk=amira_participant.pk).status == Participant.Status.WITHDRAWN
    assert not Response.objects.exists()
