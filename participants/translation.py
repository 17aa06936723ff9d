from modeltranslation.translator import TranslationOptions, register

from participants.models import ConsentText


@register(ConsentText)
class ConsentTextTranslation(TranslationOptions):
    fields = ("title", "body")
