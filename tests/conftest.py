"""Shared fixtures: the named personas and a small published study.

Personas (CONVENTIONS.md): participants amira and bashir, field staff fatima (site A) and gustav (site B),
researcher rita, study admin sara, and anon.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.test import APIClient

from participants.models import (
    ConsentRecord,
    ConsentText,
    GenderCategory,
    InterventionType,
    Participant,
    Site,
)
from participants.services import access as access_services
from participants.services import register
from surveys import services
from surveys.models import QuestionnaireVersion, Study, StudyMembership


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def _user(username: str, **extra: Any) -> User:
    return User.objects.create_user(username=username, password=f"{username}-Passw0rd!-long", **extra)


def _client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def sara_user(db: None) -> User:
    user = _user("sara")
    user.user_permissions.add(Permission.objects.get(codename="add_study"))
    return user


@pytest.fixture
def rita_user(db: None) -> User:
    return _user("rita")


@pytest.fixture
def sara(sara_user: User) -> APIClient:
    return _client_for(sara_user)


@pytest.fixture
def rita(rita_user: User) -> APIClient:
    return _client_for(rita_user)


@pytest.fixture
def outsider(db: None) -> APIClient:
    """A researcher of no study of ours."""
    return _client_for(_user("olle"))


@pytest.fixture
def study(sara_user: User, rita_user: User) -> Study:
    study = services.study_create(
        slug="panel",
        title={"en": "Life in Sweden", "sv": "Livet i Sverige", "ar": "الحياة في السويد"},
        introduction={
            "en": "Thank you for taking part.",
            "sv": "Tack för att du deltar.",
            "ar": "شكرا لمشاركتك.",
        },
        source_language="en",
        languages=["en", "sv", "ar"],
        by=sara_user,
    )
    StudyMembership.objects.create(study=study, user=rita_user, role=StudyMembership.Role.RESEARCHER)
    return study


@pytest.fixture
def draft(study: Study) -> QuestionnaireVersion:
    """A draft with two sections: a choice, a rating, a yes/no with a relevance rule and an integer."""
    questionnaire = services.questionnaire_create(
        study=study, slug="values", title={"en": "Values", "sv": "Värderingar", "ar": "القيم"}
    )
    version = questionnaire.versions.get()
    first = services.section_create(
        version=version, key="family", title={"en": "Family", "sv": "Familj", "ar": "العائلة"}
    )
    services.question_create(
        section=first,
        variable="Q1",
        type="single_choice",
        text={
            "en": "How important is family?",
            "sv": "Hur viktig är familjen?",
            "ar": "ما مدى أهمية العائلة؟",
        },
        allow_dont_know=True,
        choices=[
            {"code": "1", "label": {"en": "Very important", "sv": "Mycket viktig", "ar": "مهمة جدا"}},
            {"code": "2", "label": {"en": "Not important", "sv": "Inte viktig", "ar": "غير مهمة"}},
        ],
    )
    services.question_create(
        section=first,
        variable="Q49",
        type="rating",
        text={"en": "How satisfied are you?", "sv": "Hur nöjd är du?", "ar": "ما مدى رضاك؟"},
        scale_min=1,
        scale_max=10,
        scale_min_label={"en": "Not at all", "sv": "Inte alls", "ar": "إطلاقا"},
        scale_max_label={"en": "Completely", "sv": "Helt", "ar": "تماما"},
    )
    second = services.section_create(
        version=version, key="work", title={"en": "Work", "sv": "Arbete", "ar": "العمل"}
    )
    services.question_create(
        section=second,
        variable="EMPLOYED",
        type="yes_no",
        text={"en": "Do you work?", "sv": "Arbetar du?", "ar": "هل تعمل؟"},
    )
    services.question_create(
        section=second,
        variable="HOURS",
        type="integer",
        text={"en": "Hours per week?", "sv": "Timmar per vecka?", "ar": "ساعات في الأسبوع؟"},
        relevance="${EMPLOYED} = 'yes'",
        constraint=". >= 1 and . <= 80",
        constraint_message={"en": "1 to 80", "sv": "1 till 80", "ar": "من 1 إلى 80"},
        min_value=1,
        max_value=80,
    )
    return version


@pytest.fixture
def published(draft: QuestionnaireVersion, sara_user: User) -> QuestionnaireVersion:
    return services.version_publish(version=draft, by=sara_user)


# --- the panel: sites, staff and participants ------------------------------------------------------------


@pytest.fixture
def site_a(study: Study) -> Site:
    return Site.objects.create(
        study=study, code="site-a", name="Nairobi", country="KE", time_zone="Africa/Nairobi"
    )


@pytest.fixture
def site_b(study: Study) -> Site:
    return Site.objects.create(study=study, code="site-b", name="Amman", country="JO", time_zone="Asia/Amman")


@pytest.fixture
def fatima_user(site_a: Site) -> User:
    user = _user("fatima")
    site_a.assignments.create(user=user)
    return user


@pytest.fixture
def gustav_user(site_b: Site) -> User:
    user = _user("gustav")
    site_b.assignments.create(user=user)
    return user


@pytest.fixture
def fatima(fatima_user: User) -> APIClient:
    return _client_for(fatima_user)


@pytest.fixture
def gustav(gustav_user: User) -> APIClient:
    return _client_for(gustav_user)


@pytest.fixture
def consent_text(study: Study) -> ConsentText:
    text = ConsentText(study=study, version=1)
    for language, title, body in (
        ("en", "Consent", "You agree to answer questions about your life."),
        ("sv", "Samtycke", "Du samtycker till att svara på frågor om ditt liv."),
        ("ar", "الموافقة", "أنت توافق على الإجابة عن أسئلة حول حياتك."),
    ):
        setattr(text, f"title_{language}", title)
        setattr(text, f"body_{language}", body)
    text.save()
    GenderCategory.objects.create(study=study, code="woman", label="Woman")
    GenderCategory.objects.create(study=study, code="man", label="Man")
    InterventionType.objects.create(study=study, code="sfi", label="Swedish for immigrants")
    return text


def enroll(site: Site, staff: User, consent_text: ConsentText, **overrides: Any) -> register.EnrollmentResult:
    """Enroll through the service, with plausible defaults that a test may override."""
    fields: dict[str, Any] = {
        "preferred_language": "ar",
        "country_of_origin": "SY",
        "country_of_departure": "KE",
        "birth_year": 1990,
        "enrolled_on": timezone.localdate() - datetime.timedelta(days=2),
        "planned_departure_on": timezone.localdate() + datetime.timedelta(days=40),
        "name": "Test Person",
        "phone": "+46701234567",
        "consent": register.ConsentInput(
            consent_text=consent_text,
            language="ar",
            method=ConsentRecord.Method.READ_ALOUD,
            witnessed_by=staff,
        ),
    }
    fields.update(overrides)
    return register.participant_enroll(site=site, by=staff, **fields)


@pytest.fixture
def amira_enrollment(site_a: Site, fatima_user: User, consent_text: ConsentText) -> register.EnrollmentResult:
    return enroll(
        site_a, fatima_user, consent_text, name="Amira Haddad", phone="+46701111111", gender="woman"
    )


@pytest.fixture
def bashir_enrollment(
    site_b: Site, gustav_user: User, consent_text: ConsentText
) -> register.EnrollmentResult:
    return enroll(
        site_b, gustav_user, consent_text, name="Bashir Rahimi", phone="+46702222222", preferred_language="sv",
        country_of_origin="AF", country_of_departure="JO", gender="man",
    )  # fmt: skip


@pytest.fixture
def amira_participant(amira_enrollment: register.EnrollmentResult) -> Participant:
    return amira_enrollment.participant


@pytest.fixture
def bashir_participant(bashir_enrollment: register.EnrollmentResult) -> Participant:
    return bashir_enrollment.participant


def _participant_client(participant: Participant) -> APIClient:
    issued = access_services.access_exchange_code(
        typed_code=access_services.credentials_issue(participant=participant).access_code
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return client


@pytest.fixture
def amira(amira_participant: Participant) -> APIClient:
    return _participant_client(amira_participant)


@pytest.fixture
def bashir(bashir_participant: Participant) -> APIClient:
    return _participant_client(bashir_participant)


# --- answering: a wave, the research team's key --------------------------------------------------------------

from participants.crypto import sealing  # noqa: E402
from participants.responses import services as response_services  # noqa: E402
from surveys.models import Wave  # noqa: E402


@pytest.fixture
def research_keypair() -> tuple[sealing.PrivateKey, sealing.PublicKey]:
    """The research team's key pair; in real life the private half stays on their machine."""
    return sealing.generate_keypair()


@pytest.fixture
def study_key(
    study: Study, sara_user: User, research_keypair: tuple[sealing.PrivateKey, sealing.PublicKey]
) -> Any:
    return response_services.study_key_register(
        study=study, public_key_pem=sealing.public_key_to_pem(research_keypair[1]), suite=sealing.DEFAULT_SUITE,
        label="2026 key", by=sara_user,
    )  # fmt: skip


@pytest.fixture
def wave(study: Study, published: QuestionnaireVersion) -> Wave:
    """The pre-departure wave: opens at enrollment, 60 days (closing at departure at the latest)."""
    return services.wave_create(
        study=study, key="pre-departure", name={"en": "Before you leave", "sv": "Innan du reser", "ar": "قبل سفرك"},
        questionnaire_version=published, anchor="enrollment", window_days=60,
    )  # fmt: skip
