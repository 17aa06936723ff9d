"""The UI message catalogue: short texts the phone shows around questions, in every registry language.

Kept in code (not gettext .po files) because the phone receives them inside the questionnaire payload,
in exactly one language, and translators review them in the same spreadsheet as the questions.
"""

from __future__ import annotations

from translations import registry

CATALOGUE: dict[str, dict[str, str]] = {
    "dont_know": {
        "en": "Don't know", "sv": "Vet inte", "ar": "لا أعرف", "fa": "نمی‌دانم", "prs": "نمی‌دانم",
        "ps": "نه پوهېږم", "ti": "ኣይፈልጥን", "so": "Ma aqaan", "kmr": "Nizanim", "ckb": "نازانم",
        "uk": "Не знаю", "ru": "Не знаю", "fr": "Je ne sais pas", "es": "No sé", "ur": "معلوم نہیں",
    },
    "no_answer": {
        "en": "Prefer not to answer", "sv": "Vill inte svara", "ar": "أفضل عدم الإجابة", "fa": "ترجیح می‌دهم پاسخ ندهم",
        "prs": "ترجیح می‌دهم جواب ندهم", "ps": "نه غواړم ځواب ورکړم", "ti": "ክምልስ ኣይደልን",
        "so": "Ma doonayo inaan ka jawaabo", "kmr": "Naxwazim bersiv bidim", "ckb": "نامەوێت وەڵام بدەمەوە",
        "uk": "Не хочу відповідати", "ru": "Предпочитаю не отвечать", "fr": "Je préfère ne pas répondre",
        "es": "Prefiero no responder", "ur": "جواب نہیں دینا چاہتا",
    },
    "yes": {
        "en": "Yes", "sv": "Ja", "ar": "نعم", "fa": "بله", "prs": "بلی", "ps": "هو", "ti": "እወ", "so": "Haa",
        "kmr": "Erê", "ckb": "بەڵێ", "uk": "Так", "ru": "Да", "fr": "Oui", "es": "Sí", "ur": "ہاں",
    },
    "no": {
        "en": "No", "sv": "Nej", "ar": "لا", "fa": "خیر", "prs": "نخیر", "ps": "نه", "ti": "ኣይፋል", "so": "Maya",
        "kmr": "Na", "ckb": "نەخێر", "uk": "Ні", "ru": "Нет", "fr": "Non", "es": "No", "ur": "نہیں",
    },
    "required": {
        "en": "Please answer this question.", "sv": "Svara på frågan.", "ar": "يرجى الإجابة على هذا السؤال.",
        "fa": "لطفاً به این سؤال پاسخ دهید.", "prs": "لطفاً به این سوال جواب دهید.", "ps": "مهرباني وکړئ دې پوښتنې ته ځواب ورکړئ.",
        "ti": "በጃኹም ነዚ ሕቶ ምለሱ።", "so": "Fadlan ka jawaab su'aashan.", "kmr": "Ji kerema xwe bersiva vê pirsê bide.",
        "ckb": "تکایە وەڵامی ئەم پرسیارە بدەرەوە.", "uk": "Будь ласка, дайте відповідь.", "ru": "Пожалуйста, ответьте на вопрос.",
        "fr": "Veuillez répondre à cette question.", "es": "Por favor, responda a esta pregunta.", "ur": "براہ کرم اس سوال کا جواب دیں۔",
    },
    "invalid": {
        "en": "This answer is not valid.", "sv": "Svaret är inte giltigt.", "ar": "هذه الإجابة غير صالحة.",
        "fa": "این پاسخ معتبر نیست.", "prs": "این جواب معتبر نیست.", "ps": "دا ځواب سم نه دی.", "ti": "እዚ መልሲ ቅኑዕ ኣይኮነን።",
        "so": "Jawaabtani sax ma aha.", "kmr": "Ev bersiv ne derbasdar e.", "ckb": "ئەم وەڵامە دروست نییە.",
        "uk": "Ця відповідь недійсна.", "ru": "Этот ответ недействителен.", "fr": "Cette réponse n'est pas valide.",
        "es": "Esta respuesta no es válida.", "ur": "یہ جواب درست نہیں ہے۔",
    },
}  # fmt: skip


def message(key: str, language: str) -> str:
    """The message in ``language``, falling back along its chain to English."""
    texts = CATALOGUE[key]
    for candidate in (
        (language, *registry.get(language).fallbacks, "en") if registry.is_known(language) else ("en",)
    ):
        if candidate in texts:
            return texts[candidate]
    return texts["en"]
