"""Settings shared by every environment. Environment-specific modules import this and override."""

import datetime

from backend.settings.env import BASE_DIR, env, secret
from translations import registry

SECRET_KEY = secret("SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "modeltranslation",  # before the admin, so the admin gets its translation tabs
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # staff API tokens, stored as SHA-512 digests with an expiry
    "drf_spectacular",
    "translations",
    "surveys",
    "participants",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.middleware.api_no_store",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages come from the registry; modeltranslation adds one column per language to translated fields.
LANGUAGE_CODE = "en"
LANGUAGES = [(language.code, language.native_name) for language in registry.LANGUAGES]
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES: tuple[str, ...] = ()  # fallback is per study, see surveys.selectors
MODELTRANSLATION_AUTO_POPULATE = False
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://panel-default"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "participants.authentication.ParticipantTokenAuthentication",
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.api.exception_handler",
    # DRF's JSON parser, refusing unpaired surrogate escapes (backend/parsers.py), then DRF's form parsers.
    "DEFAULT_PARSER_CLASSES": [
        "backend.parsers.ProjectJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": "120/minute",
        "user": "600/minute",
        "staff_login": "10/minute",
        "access_code": "10/minute",
        "access_code_global": "300/minute",
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many proxies stand in front of the app: throttles then take the client address from the right
    # place in X-Forwarded-For instead of trusting whatever a client writes there.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Migrant panel survey API",
    "DESCRIPTION": (
        "Backend of a longitudinal panel survey of migrants resettled to Sweden. Every endpoint belongs "
        "to one audience: participants, field staff, researchers or study admins."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LanguageCodeEnum": "translations.registry.CODES",
        "VersionStatusEnum": "surveys.models.QuestionnaireVersion.Status",
        "ParticipantStatusEnum": "participants.models.register.Participant.Status",
    },
}

# Celery: the database is the source of truth; the broker only carries ids of rows to work on.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default="memory://"))
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Calls to outside providers (SMS, e-mail) run on their own queue, so a slow gateway never blocks the rest.
CELERY_TASK_ROUTES = {"participants.tasks.reminder_send": {"queue": "providers"}}
CELERY_BEAT_SCHEDULE = {
    "reminders-tick": {"task": "participants.tasks.reminders_tick", "schedule": 60.0},
    "schedules-advance": {"task": "participants.tasks.schedules_advance", "schedule": 300.0},
}

# Server-side key ring for contact details and drafts: "kid:base64key,kid2:base64key", newest first.
FIELD_ENCRYPTION_KEYS = secret("FIELD_ENCRYPTION_KEYS", "")
BLIND_INDEX_KEY = secret("BLIND_INDEX_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Request bodies never reach the logs: django.request logs only method, path and status.
}

# Participant access: the light web client's address (personal links point there), token lifetimes.
PARTICIPANT_APP_URL = env.str("PARTICIPANT_APP_URL", default="http://127.0.0.1:8000/p/")
PARTICIPANT_TOKEN_DAYS = env.int("PARTICIPANT_TOKEN_DAYS", default=90)
LINK_TOKEN_DAYS = env.int("LINK_TOKEN_DAYS", default=30)
STAFF_LOCKOUT_ATTEMPTS = env.int("STAFF_LOCKOUT_ATTEMPTS", default=5)
STAFF_LOCKOUT_MINUTES = env.int("STAFF_LOCKOUT_MINUTES", default=15)
# Staff API tokens (auth/token/): only a digest is stored, so a database dump yields none that works; each
# expires after a working day.
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=env.int("STAFF_TOKEN_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
}
AUTHENTICATION_BACKENDS = ["participants.backends.LockoutModelBackend"]

# Reminder channels. SMS_BACKEND: "elks46", "twilio" or "console". Credentials only from the environment.
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
ELKS46_BASE_URL = env.str("ELKS46_BASE_URL", default="https://api.46elks.com/a1")
ELKS46_API_USERNAME = secret("ELKS46_API_USERNAME", "")
ELKS46_API_PASSWORD = secret("ELKS46_API_PASSWORD", "")
ELKS46_FROM = env.str("ELKS46_FROM", default="Panel")
ELKS46_WEBHOOK_SECRET = secret("ELKS46_WEBHOOK_SECRET", "")
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="https://api.twilio.com")
TWILIO_ACCOUNT_SID = secret("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = secret("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
# Where providers post delivery reports, e.g. https://panel.example.org (no trailing slash).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=10.0)
