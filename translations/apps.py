from django.apps import AppConfig


class TranslationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "translations"
    verbose_name = "Languages and translations"

    def ready(self) -> None:
        # Django's own table lacks some of our languages (Dari, Kurmanji, Tigrinya, Somali...); the
        # admin asks it for their direction, so teach it from the registry.
        from django.conf.locale import LANG_INFO

        from translations import registry

        for language in registry.LANGUAGES:
            LANG_INFO.setdefault(
                language.code,
                {
                    "bidi": language.direction == "rtl",
                    "code": language.code,
                    "name": language.english_name,
                    "name_local": language.native_name,
                },
            )
