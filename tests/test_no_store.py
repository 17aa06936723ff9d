"""API replies are kept in no cache: answers, contact details and tokens must not stay in a shared phone's or a
staff laptop's browser cache. The questionnaire keeps its own policy (revalidated by its ETag)."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from participants.models import Participant
from surveys.models import Wave
from tests.participants.responses.conftest import answers_url, post_page

API = "/api/v1/"


def test_replies_holding_answers_contacts_or_tokens_say_no_store(
    wave: Wave, study_key: Any, amira: APIClient, fatima: APIClient, amira_participant: Participant
) -> None:
    # given amira has a draft
    assert post_page(amira, wave, "family", {"Q1": "1", "Q49": 4}).status_code == 200

    # when
    replies = {
        "draft": amira.get(answers_url(wave)),
        "own contact": amira.get(f"{API}me/contact/"),
        "contact for staff": fatima.get(f"{API}participants/{amira_participant.pseudonym}/contact/"),
        "refused": amira.get(f"{API}participants/{amira_participant.pseudonym}/contact/"),
    }

    # then
    assert {name: (reply.status_code, reply["Cache-Control"]) for name, reply in replies.items()} == {
        "draft": (200, "no-store"),
        "own contact": (200, "no-store"),
        "contact for staff": (200, "no-store"),
        "refused": (403, "no-store"),
    }


def test_the_questionnaire_keeps_its_revalidation_policy(
    wave: Wave, study_key: Any, amira: APIClient
) -> None:
    reply = amira.get(f"{API}me/waves/{wave.key}/questionnaire/")
    assert (reply.status_code, reply["Cache-Control"]) == (200, "private, no-cache")
