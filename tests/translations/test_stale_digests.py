from surveys.models import Question, QuestionnaireVersion, Study


def test_loading_with_deferred_translated_fields_does_not_recurse(draft: QuestionnaireVersion) -> None:
    question = Question.objects.only("id", "variable").get(variable="Q1", version=draft)
    assert question.text_ar == "ما مدى أهمية العائلة؟"


def test_saving_a_deferred_row_keeps_stale_flags(draft: QuestionnaireVersion) -> None:
    # given a translation made stale by a source change
    question = Question.objects.get(variable="Q1", version=draft)
    question.text_en = "How important is your family?"
    question.save()
    # when the row is loaded with its translations deferred and saved again
    partial = Question.objects.defer("text_ar", "text_sv").get(pk=question.pk)
    partial.required = False
    partial.save()
    # then the Arabic translation still needs review
    assert Question.objects.get(pk=question.pk).is_translation_stale("text", "ar") is True


def test_deleting_a_study_with_content_works(draft: QuestionnaireVersion) -> None:
    deleted, _ = Study.objects.filter(pk=draft.questionnaire.study_id).delete()
    assert deleted > 10
    assert Question.objects.count() == 0
