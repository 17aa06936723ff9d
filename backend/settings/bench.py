"""Benchmarks (`make bench`): the test settings with a shared Redis cache, so "warm" means what it does in
production. Runs inside scripts/testenv.sh, which sets DATABASE_URL and REDIS_URL."""

from backend.settings.env import env
from backend.settings.test import *  # noqa: F403

DEBUG = False
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("REDIS_URL"),
        "KEY_PREFIX": "bench",
    }
}
