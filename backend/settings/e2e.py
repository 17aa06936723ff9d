"""End-to-end tests: a real Celery worker and beat (subprocesses) against the pytest test database.

The test starts the worker and beat with ``DJANGO_SETTINGS_MODULE=backend.settings.e2e`` and passes in the
environment what only it knows: the test database (``DATABASE_URL``, the ``test_...`` database that
pytest-django created), the broker (``CELERY_BROKER_URL``: the testenv Redis, or a private one the test stops
and starts), the fake 46elks on loopback (``ELKS46_*``) and, for delivery reports, the live server
(``PUBLIC_BASE_URL``). See tests/participants/reminders/e2e_support.py.
"""

from backend.settings.env import env
from backend.settings.test import *  # noqa: F403

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = 0  # the test flushes the database between tests: hold nothing open

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default=""))
# Dispatch twice a second instead of every minute, so a test waits seconds for what production does in minutes.
CELERY_BEAT_SCHEDULE = {
    "reminders-tick": {"task": "participants.tasks.reminders_tick", "schedule": 0.5},
    "schedules-advance": {"task": "participants.tasks.schedules_advance", "schedule": 1.0},
}

SMS_BACKEND = "elks46"
ELKS46_BASE_URL = env.str("ELKS46_BASE_URL")
ELKS46_API_USERNAME = env.str("ELKS46_API_USERNAME")
ELKS46_API_PASSWORD = env.str("ELKS46_API_PASSWORD")
ELKS46_FROM = env.str("ELKS46_FROM", default="Panel")
ELKS46_WEBHOOK_SECRET = env.str("ELKS46_WEBHOOK_SECRET")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:9")
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=10.0)
