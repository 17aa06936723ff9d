from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "participants"
    verbose_name = "Panel participants"

    def ready(self) -> None:
        from participants import schema  # noqa: F401 - registers the OpenAPI description of the token
