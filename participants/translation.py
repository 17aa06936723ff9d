from modeltranslation.translator import TranslationOptions, register

from participants.models import ConsentText, ReminderPolicy


@register(ConsentText)
class ConsentTextTranslation(TranslationOptions):
    fields = ("title", "body")


@register(ReminderPolicy)
class ReminderPolicyTranslation(TranslationOptions):
    fields = ("invitation_text", "reminder_text", "last_chance_text")
