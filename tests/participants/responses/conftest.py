"""Helpers for the responses tests: posting pages and completions, a second phone, a richer questionnaire.

The personas, the study, the small published version (``published``), its ``wave`` and the research key
(``research_keypair``, ``study_key``) come from tests/conftest.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.test import APIClient

from participants.models import Participant
from participants.reminders.schedules import schedules_sync
from participants.services import access as access_services
from surveys import services
from surveys.models import QuestionnaireVersion, Study, Wave

API = "/api/v1"

# The rich questionnaire's constraint message for ARRIVED (". <= today()"), in every study language.
ARRIVED_CONSTRAINT_MESSAGE = {
    "en": "The date cannot be in the future.",
    "sv": "Datumet kan inte ligga i framtiden.",
    "ar": "لا يمكن أن يكون التاريخ في المستقبل.",
}

# A complete, valid page "about" of the rich questionnaire, as a phone would send it.
VALID_ABOUT: dict[str, Any] = {
    "ORIGIN": "2",
    "LANGS": ["sv", "ar"],
    "TRUST": 7,
    "CHILDREN": 2,
    "INCOME": "1234.50",
    "HOPES": "a quiet life",
    "ARRIVED": "2020-05-17",
    "RELIGIOUS": "yes",
}
# What is kept of it: multiple-choice codes in questionnaire order, text stripped, decimals as text.
STORED_ABOUT: dict[str, Any] = {**VALID_ABOUT, "LANGS": ["ar", "sv"]}


def answers_url(wave: Wave) -> str:
    return f"{API}/me/waves/{wave.key}/answers/"


def complete_url(wave: Wave) -> str:
    return f"{API}/me/waves/{wave.key}/complete/"


def page_body(
    section: str, answers: dict[str, Any], *, submission_id: str | None = None, language: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "submission_id": submission_id or str(uuid.uuid4()),
        "section": section,
        "answers": answers,
    }
    if language is not None:
        body["language"] = language
    return body


def post_page(
    client: APIClient,
    wave: Wave,
    section: str,
    answers: dict[str, Any],
    *,
    submission_id: str | None = None,
    language: str | None = None,
) -> Any:
    body = page_body(section, answers, submission_id=submission_id, language=language)
    return client.post(answers_url(wave), body, format="json")


def post_complete(client: APIClient, wave: Wave, *, submission_id: str | None = None) -> Any:
    return client.post(
        complete_url(wave), {"submission_id": submission_id or str(uuid.uuid4())}, format="json"
    )


def answer_errors(response: Any) -> list[tuple[str, str]]:
    """(variable, code) of every entry of a 400 invalid_answers body, in the order given."""
    return [(error["variable"], error["code"]) for error in response.json()["details"]["errors"]]


def token_for(participant: Participant) -> str:
    """A fresh access code exchanged for a Bearer token, as a new phone does (older tokens keep working)."""
    code = access_services.credentials_issue(participant=participant).access_code
    return access_services.access_exchange_code(typed_code=code).token


def bearer_client(token: str) -> APIClient:
    # A server error comes back as a 500 response instead of an exception, so assertions show it.
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def phone_for(participant: Participant) -> APIClient:
    """Another phone of the same participant, with its own token."""
    return bearer_client(token_for(participant))


@pytest.fixture
def amira(amira_participant: Participant) -> APIClient:
    """Amira's phone (overrides the shared fixture so that a 500 is a response, not an exception)."""
    return phone_for(amira_participant)


@pytest.fixture
def bashir(bashir_participant: Participant) -> APIClient:
    return phone_for(bashir_participant)


def answer_fully(client: APIClient, wave: Wave) -> list[Any]:
    """Both pages of the small ``published`` questionnaire, then completion; returns the three responses."""
    return [
        post_page(client, wave, "family", {"Q1": "1", "Q49": 4}),
        post_page(client, wave, "work", {"EMPLOYED": "yes", "HOURS": 20}),
        post_complete(client, wave),
    ]


def run_together(count: int, call: Callable[[], Any]) -> list[Any]:
    """Run ``call`` in ``count`` threads released at the same instant; each thread has its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported by the test as a result
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _texts(en: str, sv: str, ar: str) -> dict[str, str]:
    return {"en": en, "sv": sv, "ar": ar}


def build_rich_version(study: Study, by: User) -> QuestionnaireVersion:
    """A published version with one question of every type (section "about") and a relevance-gated page."""
    questionnaire = services.questionnaire_create(
        study=study, slug="life", title=_texts("Your life", "Ditt liv", "حياتك")
    )
    version = questionnaire.versions.get()
    about = services.section_create(version=version, key="about", title=_texts("About you", "Om dig", "عنك"))
    services.question_create(
        section=about, variable="INTRO", type="note", required=False,
        text=_texts("A few questions about you.", "Några frågor om dig.", "بعض الأسئلة عنك."),
    )  # fmt: skip
    services.question_create(
        section=about, variable="ORIGIN", type="single_choice", allow_dont_know=True,
        text=_texts("Where did you grow up?", "Var växte du upp?", "أين نشأت؟"),
        choices=[
            {"code": "1", "label": _texts("City", "Stad", "مدينة")},
            {"code": "2", "label": _texts("Town", "Småstad", "بلدة")},
            {"code": "3", "label": _texts("Village", "By", "قرية")},
        ],
    )  # fmt: skip
    services.question_create(
        section=about, variable="LANGS", type="multiple_choice", allow_no_answer=True, min_choices=2,
        max_choices=3, text=_texts("Which languages do you speak?", "Vilka språk talar du?", "ما اللغات التي تتحدثها؟"),
        choices=[
            {"code": "ar", "label": _texts("Arabic", "Arabiska", "العربية")},
            {"code": "sv", "label": _texts("Swedish", "Svenska", "السويدية")},
            {"code": "en", "label": _texts("English", "Engelska", "الإنجليزية")},
            {"code": "fa", "label": _texts("Persian", "Persiska", "الفارسية")},
        ],
    )  # fmt: skip
    services.question_create(
        section=about, variable="TRUST", type="rating", scale_min=0, scale_max=10, allow_dont_know=True,
        allow_no_answer=True, text=_texts("Can most people be trusted?", "Går de flesta att lita på?", "هل يمكن الوثوق بمعظم الناس؟"),
        scale_min_label=_texts("Not at all", "Inte alls", "إطلاقا"), scale_max_label=_texts("Fully", "Helt", "تماما"),
    )  # fmt: skip
    services.question_create(
        section=about, variable="CHILDREN", type="integer", min_value=0, max_value=20,
        text=_texts("How many children do you have?", "Hur många barn har du?", "كم طفلا لديك؟"),
    )  # fmt: skip
    services.question_create(
        section=about, variable="INCOME", type="decimal", min_value=0, max_value=1000000,
        text=_texts("Monthly income?", "Månadsinkomst?", "الدخل الشهري؟"),
    )  # fmt: skip
    services.question_create(
        section=about, variable="HOPES", type="text", max_length=40,
        text=_texts("What do you hope for?", "Vad hoppas du på?", "ما الذي تأمله؟"),
    )  # fmt: skip
    services.question_create(
        section=about, variable="ARRIVED", type="date", constraint=". <= today()",
        constraint_message=ARRIVED_CONSTRAINT_MESSAGE,
        text=_texts("When did you move here?", "När flyttade du hit?", "متى انتقلت إلى هنا؟"),
    )  # fmt: skip
    services.question_create(
        section=about, variable="RELIGIOUS", type="yes_no",
        text=_texts("Are you religious?", "Är du religiös?", "هل أنت متدين؟"),
    )  # fmt: skip
    faith = services.section_create(version=version, key="faith", title=_texts("Faith", "Tro", "الإيمان"))
    services.question_create(
        section=faith, variable="PRAYERS", type="integer", min_value=0, max_value=35,
        relevance="${RELIGIOUS} = 'yes'",
        text=_texts("Prayers per week?", "Böner per vecka?", "عدد الصلوات في الأسبوع؟"),
    )  # fmt: skip
    services.question_create(
        section=faith, variable="STORY", type="text", required=False, max_length=2000,
        text=_texts("Tell us more.", "Berätta mer.", "أخبرنا المزيد."),
    )  # fmt: skip
    return services.version_publish(version=version, by=by)


@pytest.fixture
def rich_version(study: Study, sara_user: User) -> QuestionnaireVersion:
    return build_rich_version(study, sara_user)


@pytest.fixture
def rich_wave(study: Study, rich_version: QuestionnaireVersion) -> Wave:
    """The baseline wave asking the rich version; anyone enrolled already gets their window for it."""
    wave = services.wave_create(
        study=study, key="baseline", name=_texts("Baseline", "Baslinje", "خط الأساس"),
        questionnaire_version=rich_version, anchor="enrollment", window_days=60,
    )  # fmt: skip
    for participant in Participant.objects.filter(study=study):
        schedules_sync(participant=participant)
    return wave
