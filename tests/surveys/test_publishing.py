import pytest
from django.contrib.auth.models import User

from surveys import services
from surveys.models import Question, QuestionnaireVersion
from translations.content import set_text


def test_publish_freezes_the_version(published: QuestionnaireVersion) -> None:
    # then
    assert published.status == "published"
    assert published.published_at is not None
    assert len(published.content_digest) == 64


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("question_update", {"required": False}),
        ("question_delete", {}),
    ],
)
def test_editing_a_published_question_is_refused(
    published: QuestionnaireVersion, operation: str, kwargs: dict
) -> None:
    question = published.questions.get(variable="Q49")
    with pytest.raises(services.VersionFrozen, match="published and frozen"):
        getattr(services, operation)(question=question, **kwargs)
    assert Question.objects.filter(pk=question.pk, required=True).count() == 1


def test_adding_to_a_published_version_is_refused(published: QuestionnaireVersion) -> None:
    section = published.sections.get(key="family")
    with pytest.raises(services.VersionFrozen):
        services.section_create(version=published, key="more", title={"en": "More"})
    with pytest.raises(services.VersionFrozen):
        services.question_create(section=section, variable="Q2", type="text", text={"en": "Why?"})
    with pytest.raises(services.VersionFrozen):
        services.choice_update(
            choice=published.questions.get(variable="Q1").choices.first(), label={"en": "x"}
        )
    assert published.questions.count() == 4


def test_new_draft_copies_the_published_version(published: QuestionnaireVersion) -> None:
    draft = services.version_new_draft(questionnaire=published.questionnaire)
    assert (draft.number, draft.status, draft.based_on_id) == (2, "draft", published.pk)
    assert list(draft.questions.values_list("variable", flat=True)) == ["Q1", "Q49", "EMPLOYED", "HOURS"]
    assert list(draft.questions.get(variable="Q1").choices.values_list("code", "label_ar")) == [
        ("1", "مهمة جدا"),
        ("2", "غير مهمة"),
    ]
    # editing the draft leaves the published version untouched
    services.question_update(question=draft.questions.get(variable="Q1"), text={"en": "Is family important?"})
    assert published.questions.get(variable="Q1").text_en == "How important is family?"


def test_only_one_draft_at_a_time(draft: QuestionnaireVersion) -> None:
    with pytest.raises(services.Conflict, match="has a draft version already"):
        services.version_new_draft(questionnaire=draft.questionnaire)


def test_publish_lists_every_missing_translation(draft: QuestionnaireVersion, sara_user: User) -> None:
    question = draft.questions.get(variable="Q49")
    set_text(question, "scale_max_label", "ar", "")
    set_text(question, "text", "sv", "")
    question.save()
    with pytest.raises(services.NotPublishable) as error:
        services.version_publish(version=draft, by=sara_user)
    assert error.value.details["missing_translations"] == {
        "sv": ["question Q49: text"],
        "ar": ["question Q49: scale_max_label"],
    }
    draft.refresh_from_db()
    assert draft.status == QuestionnaireVersion.Status.DRAFT


def test_changing_source_text_marks_translations_stale(draft: QuestionnaireVersion) -> None:
    question = draft.questions.get(variable="Q1")
    assert not question.is_translation_stale("text", "ar")
    # when the source changes
    services.question_update(question=question, text={"en": "How important is your family?"})
    question = Question.objects.get(pk=question.pk)
    # then both translations need review, until a translator updates or confirms them
    assert [question.is_translation_stale("text", code) for code in ("sv", "ar")] == [True, True]
    services.question_update(question=question, text={"sv": "Hur viktig är din familj?"})
    services.texts_mark_reviewed(
        instance=Question.objects.get(pk=question.pk), field_name="text", languages=["ar"]
    )
    question = Question.objects.get(pk=question.pk)
    assert [question.is_translation_stale("text", code) for code in ("sv", "ar")] == [False, False]


def test_relevance_may_only_name_earlier_questions(draft: QuestionnaireVersion) -> None:
    section = draft.sections.get(key="family")
    question = section.questions.get(variable="Q1")
    with pytest.raises(services.DomainError, match=r"HOURS"):
        services.question_update(question=question, relevance="${HOURS} > 3")
    with pytest.raises(services.DomainError, match=r"Relevance of Q1"):
        services.question_update(question=question, relevance="unknown_fn(1)")
    assert Question.objects.get(pk=question.pk).relevance == ""
