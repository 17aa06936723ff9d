"""Participant-facing texts of the instrument, translated with django-modeltranslation."""

from modeltranslation.translator import TranslationOptions, register

from surveys.models import Choice, Question, Questionnaire, Section, Study, Wave


@register(Study)
class StudyTranslation(TranslationOptions):
    fields = ("title", "introduction")


@register(Questionnaire)
class QuestionnaireTranslation(TranslationOptions):
    fields = ("title",)


@register(Section)
class SectionTranslation(TranslationOptions):
    fields = ("title",)


@register(Question)
class QuestionTranslation(TranslationOptions):
    fields = ("text", "hint", "constraint_message", "scale_min_label", "scale_max_label")


@register(Choice)
class ChoiceTranslation(TranslationOptions):
    fields = ("label",)


@register(Wave)
class WaveTranslation(TranslationOptions):
    fields = ("name",)
