"""The admin renders for staff, scoped to what they may see; RTL fields are written right-to-left."""

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from participants.models import Participant
from surveys.models import QuestionnaireVersion


def _staff_client(user: User) -> Client:
    user.is_staff = True
    user.is_superuser = True  # model permissions aside: scoping must still come from the querysets
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model", [model for model in admin.site._registry], ids=lambda model: model._meta.label
)
def test_every_changelist_renders(model, sara_user: User, published: QuestionnaireVersion) -> None:
    client = _staff_client(sara_user)
    response = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    assert response.status_code == 200


def test_question_form_renders_arabic_fields_right_to_left(
    sara_user: User, draft: QuestionnaireVersion
) -> None:
    client = _staff_client(sara_user)
    question = draft.questions.get(variable="Q1")
    page = client.get(reverse("admin:surveys_question_change", args=[question.pk])).content.decode()
    assert 'dir="rtl" lang="ar"' in page or 'lang="ar" dir="rtl"' in page
    assert 'name="text_ar"' in page


def test_a_published_question_is_read_only_in_the_admin(
    sara_user: User, published: QuestionnaireVersion
) -> None:
    client = _staff_client(sara_user)
    question = published.questions.get(variable="Q1")
    response = client.post(
        reverse("admin:surveys_question_change", args=[question.pk]), {"text_en": "Changed", "required": "on"}
    )
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.text_en == "How important is family?"


def test_field_staff_see_only_their_sites_participants_in_the_admin(
    fatima_user: User, amira_participant: Participant, bashir_participant: Participant
) -> None:
    client = _staff_client(fatima_user)
    page = client.get(reverse("admin:participants_participant_changelist")).content.decode()
    assert amira_participant.pseudonym in page
    assert bashir_participant.pseudonym not in page


def test_the_admin_never_shows_contact_details(fatima_user: User, amira_participant: Participant) -> None:
    client = _staff_client(fatima_user)
    page = client.get(
        reverse("admin:participants_participant_change", args=[amira_participant.pk])
    ).content.decode()
    assert "Amira Haddad" not in page
    assert "+46701111111" not in page


def test_a_study_admin_registers_and_retires_a_key_in_the_admin(sara_user: User, study) -> None:
    from participants.crypto import sealing
    from participants.models import AuditEntry, StudyKey

    client = _staff_client(sara_user)
    _, public_key = sealing.generate_keypair()
    # when
    added = client.post(
        reverse("admin:participants_studykey_add"),
        {
            "study": study.pk,
            "suite": sealing.DEFAULT_SUITE,
            "public_key_pem": sealing.public_key_to_pem(public_key),
            "label": "2027",
        },
    )
    key = StudyKey.objects.get()
    retired = client.post(
        reverse("admin:participants_studykey_changelist"), {"action": "retire", "_selected_action": [key.pk]}
    )
    # then
    assert (added.status_code, retired.status_code) == (302, 302)
    key.refresh_from_db()
    assert key.fingerprint == sealing.fingerprint(public_key)
    assert key.retired_at is not None
    assert list(AuditEntry.objects.filter(study=study).values_list("action", flat=True)) == [
        "study_key.registered",
        "study_key.retired",
    ]


def test_a_key_registered_by_another_request_meanwhile_is_refused_not_reported_added(
    sara_user: User, study, monkeypatch: pytest.MonkeyPatch
) -> None:
    from participants.admin import StudyKeyForm
    from participants.crypto import sealing
    from participants.models import StudyKey
    from participants.responses.services import study_key_register

    client = _staff_client(sara_user)
    pem = sealing.public_key_to_pem(sealing.generate_keypair()[1])
    real_clean = StudyKeyForm.clean

    def clean_then_another_request_registers(form: StudyKeyForm) -> dict[str, Any]:
        cleaned = real_clean(form)
        # after the form found the key new, before the admin saves it
        study_key_register(
            study=study, public_key_pem=pem, suite=sealing.DEFAULT_SUITE, label="other", by=sara_user
        )
        return cleaned

    monkeypatch.setattr(StudyKeyForm, "clean", clean_then_another_request_registers)
    # when
    added = client.post(
        reverse("admin:participants_studykey_add"),
        {"study": study.pk, "suite": sealing.DEFAULT_SUITE, "public_key_pem": pem, "label": "2027"},
        follow=True,
    )
    # then the page says it was refused, and only the other request's key is stored
    shown = [(message.level_tag, message.message) for message in added.context["messages"]]
    assert added.status_code == 200
    assert shown == [("error", "This key is registered already.")]
    assert list(StudyKey.objects.values_list("label", flat=True)) == ["other"]


def test_a_garbage_key_is_a_form_error_in_the_admin(sara_user: User, study) -> None:
    from participants.models import StudyKey

    client = _staff_client(sara_user)
    page = client.post(
        reverse("admin:participants_studykey_add"),
        {
            "study": study.pk,
            "suite": "X25519-HKDF-SHA256-AES256GCM",
            "public_key_pem": "not a key",
            "label": "",
        },
    )
    assert page.status_code == 200
    assert StudyKey.objects.count() == 0


def test_the_version_admin_shows_translation_coverage(sara_user: User, draft: QuestionnaireVersion) -> None:
    client = _staff_client(sara_user)
    page = client.get(reverse("admin:surveys_questionnaireversion_change", args=[draft.pk])).content.decode()
    assert "Translation coverage" in page
    # study title and introduction, questionnaire title, 2 section titles, 4 question texts, 2 choices,
    # 2 scale labels and 1 constraint message
    assert "<td>ar</td><td>14 / 14</td>" in page
