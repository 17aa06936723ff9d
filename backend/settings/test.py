"""Tests: PostgreSQL and Redis from scripts/testenv.sh (DATABASE_URL, REDIS_URL)."""

from backend.settings.base import *  # noqa: F403
from backend.settings.env import env

SECRET_KEY = "test-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; Argon2 is tested explicitly
FIELD_ENCRYPTION_KEYS = (
    "test2:Yl5m0n8hUq0W3b7rCz1vKjE4sPqTtGxDaF9iLwNe2Oo,test1:6dXc8H1hUmvIbm1XaVYpAPazGZf_0o0sFj3GAuHPxUs"
)
BLIND_INDEX_KEY = "r7T6fWZbVqGz0e5jQk1Y2m4Lc8Nn3Ps9UoXwHdAiBtE"
CELERY_BROKER_URL = env.str("REDIS_URL", default="memory://")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "console"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "panel-test"}}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns about a missing directory
