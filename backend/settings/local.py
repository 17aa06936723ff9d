"""The embedded default for `make run`: SQLite, no Redis (Celery tasks run eagerly), demo keys."""

from backend.settings.base import *  # noqa: F403
from backend.settings.env import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "local-development-only-not-secret"  # noqa: S105
ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost"]
(BASE_DIR / "var" / "static").mkdir(parents=True, exist_ok=True)

CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True

# Demo keys, for the embedded default only. Production refuses to start without its own.
FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or "dev1:6dXc8H1hUmvIbm1XaVYpAPazGZf_0o0sFj3GAuHPxUs"
BLIND_INDEX_KEY = BLIND_INDEX_KEY or "r7T6fWZbVqGz0e5jQk1Y2m4Lc8Nn3Ps9UoXwHdAiBtE"
EMAIL_BACKEND = "participants.reminders.providers.console.mail.EmailBackend"  # masked, one line each
SMS_BACKEND = "console"
