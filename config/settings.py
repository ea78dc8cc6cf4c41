"""Settings for the Clever bridge, driven by the environment (django-environ).

Every knob has a safe default for the embedded demo (SQLite, eager Celery, the local Clever
sandbox). With ``DJANGO_ENV=production`` secrets have no default, PostgreSQL and Redis are
required, the sandbox cannot be mounted and ``manage.py check --deploy`` is clean.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from config import observability

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A `.env` file at the project root (or the file DJANGO_ENV_FILE names; empty: none), read before
# anything else: the real environment wins over it (read_env never overwrites a variable that
# is set). `.env.example` lists every variable.
ENV_FILE = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

DEMO_SECRET_KEY = "insecure-demo-key-not-for-production"
if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    if SECRET_KEY == DEMO_SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is the published demo key: set a secret of your own.")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
    DEBUG = False
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEMO_SECRET_KEY)
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
    DEBUG = env.bool("DJANGO_DEBUG", default=True)

INSTALLED_APPS = [
    # Django's admin, with the support dashboard as its index (console/).
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "clever",
    "districts",
    "rostering",
    "matching",
    "sso",
    # django-allauth (sso/ provides the Clever provider; allauth's bundled "clever" app is not
    # installed beside it).
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "lms",
    # The embedded demo's set-up (``manage.py demo_setup``): always installed, so that without the
    # sandbox the command refuses with a clear error; it has no models and imports the sandbox
    # only when run with it.
    "demo",
    # Health endpoints (django-health-check: its page template and `manage.py health_check`) and
    # alerts to support staff (operations/).
    "health_check",
    "operations",
]

# The local Clever: an emulator of Clever's OAuth, Data API, Events and LMS Connect. It hands
# district tokens to anyone who knows its published credentials, so production refuses to load
# with it (a refusal here stops every process: a WSGI server never runs the system checks).
CLEVER_SANDBOX = env.bool("CLEVER_SANDBOX", default=not PRODUCTION)
if PRODUCTION and CLEVER_SANDBOX:
    raise ImproperlyConfigured(
        "CLEVER_SANDBOX is on with DJANGO_ENV=production: the sandbox hands out district tokens "
        "to anyone and must never face real users. Unset CLEVER_SANDBOX."
    )
if CLEVER_SANDBOX:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # X-Request-ID in, out and on every log line written meanwhile (config/observability.py).
    "config.request_id.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Ends Clever sessions of districts that stopped sharing, and after SSO_SESSION_SECONDS.
    "sso.middleware.CleverSessionMiddleware",
    # Staff without an authenticator app set one up before anything else (STAFF_MFA_REQUIRED).
    "sso.middleware.StaffMFAMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sso.context_processors.signed_in",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the demo server read while a sync writes; the timeout rides out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
if PRODUCTION and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Refused here, not in a system check: gunicorn and Celery never run the checks.
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs PostgreSQL: DATABASE_URL is missing or names SQLite, which "
        "cannot serve several web and worker processes at once. Set DATABASE_URL=postgres://..."
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# One sign-in page for everyone with a password, the admin's included (config/urls.py): allauth's,
# with its rate limits and second factor.
LOGIN_URL = "account_login"

# --- Caches and Celery -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs REDIS_URL (Celery's broker and the shared cache): without it "
        "every task (a district's sync, an LMS push) would run inline inside a web request, and "
        "sign-in rate limits would be counted per process. Set REDIS_URL=redis://..."
    )
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without Redis the embedded demo runs tasks eagerly, in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# ... in the calling thread, or with EAGER_TASKS_IN_BACKGROUND (`make demo`'s web server) on a
# thread of their own, so a page that starts a sync returns at once (config/celery.py). Off for
# commands: a process that exits would lose its background tasks.
EAGER_TASKS_IN_BACKGROUND = env.bool("EAGER_TASKS_IN_BACKGROUND", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task's hard limit stays below the Redis visibility timeout, so a running task is never
# handed to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=CELERY_TASK_TIME_LIMIT - 300)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Queues by kind of work, each with workers of its own (Procfile, README "Deployment"), so a
# three-hour roster sync never delays a teacher's LMS push, and neither delays the short work:
#   sync     roster syncs, the event polls (they apply what they find) and the retention
#            purge (long: hours);
#   lms      LMS Connect pushes and pulls (a teacher is waiting for them);
#   default  everything else: discovery, the matching refresh, the nightly dispatchers (they only
#            enqueue), the recovery sweep (it finds sync workers that died: it must never wait
#            behind the syncs it watches), alerts, the sandbox's purge.
# A new task goes to `default` unless it is routed here. `celery -A config worker` without -Q
# consumes all three (CELERY_TASK_QUEUES); the Procfile's workers take one each. Eager mode (no
# REDIS_URL) ignores queues.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in ("default", "sync", "lms")]
CELERY_TASK_ROUTES = {
    "rostering.tasks.sync_district": {"queue": "sync"},
    "rostering.tasks.purge_expired_rosters": {"queue": "sync"},
    "rostering.tasks.poll_district_events": {"queue": "sync"},
    # Exact names win over patterns: the LMS dispatcher only enqueues the pulls and pushes.
    "lms.tasks.nightly_pull": {"queue": "default"},
    "lms.tasks.*": {"queue": "lms"},
}
# Static beat schedule; each app's nightly work is added beside its settings.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}

# --- Clever ----------------------------------------------------------------------------------
# The sandbox's fixed app credentials (documented in the README); real ones come from the
# environment and have no default in production.
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
if PRODUCTION:
    CLEVER_CLIENT_ID = env.str("CLEVER_CLIENT_ID")
    CLEVER_CLIENT_SECRET = env.str("CLEVER_CLIENT_SECRET")
    if CLEVER_CLIENT_SECRET == SANDBOX_CLIENT_SECRET:
        raise ImproperlyConfigured(
            "CLEVER_CLIENT_SECRET is the sandbox's published secret: use the "
            "app's secret from the Clever dashboard."
        )
else:
    CLEVER_CLIENT_ID = env.str("CLEVER_CLIENT_ID", default=SANDBOX_CLIENT_ID)
    CLEVER_CLIENT_SECRET = env.str("CLEVER_CLIENT_SECRET", default=SANDBOX_CLIENT_SECRET)

# Where this app is served; the sandbox's bases and its registered redirect URI derive from it.
APP_BASE_URL = env.str("APP_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if CLEVER_SANDBOX:
    _sandbox_base = f"{APP_BASE_URL}/sandbox"
    CLEVER_OAUTH_BASE = env.str("CLEVER_OAUTH_BASE", default=_sandbox_base).rstrip("/")
    CLEVER_API_BASE = env.str("CLEVER_API_BASE", default=_sandbox_base).rstrip("/")
    # Calls from this process to its own sandbox go through an in-process WSGI transport
    # (no socket, no second server thread); the browser still follows real URLs.
    CLEVER_HTTP_ADAPTER = env.str("CLEVER_HTTP_ADAPTER", default="sandbox.transport.InProcessAdapter")
else:
    CLEVER_OAUTH_BASE = env.str("CLEVER_OAUTH_BASE", default="https://clever.com").rstrip("/")
    CLEVER_API_BASE = env.str("CLEVER_API_BASE", default="https://api.clever.com").rstrip("/")
    CLEVER_HTTP_ADAPTER = ""
if CLEVER_SANDBOX:
    from celery.schedules import crontab

    CELERY_BEAT_SCHEDULE["sandbox-purge-expired-events"] = {
        "task": "sandbox.tasks.purge_expired_events",
        "schedule": crontab(hour=3, minute=30),
    }
CLEVER_REDIRECT_URI = env.str(
    "CLEVER_REDIRECT_URI", default=f"{APP_BASE_URL}/accounts/clever/login/callback/"
)
CLEVER_API_VERSION = env.str("CLEVER_API_VERSION", default="v3.1")
CLEVER_PAGE_SIZE = env.int("CLEVER_PAGE_SIZE", default=10_000)
# Sections list their enrollments: smaller pages keep a sync's memory flat (at most CLEVER_PAGE_SIZE).
CLEVER_SECTIONS_PAGE_SIZE = env.int("CLEVER_SECTIONS_PAGE_SIZE", default=1_000)
# Seconds: (connect, read). LMS writes get the longer read timeout Clever recommends.
CLEVER_TIMEOUT = env.float("CLEVER_TIMEOUT", default=30.0)
CLEVER_LMS_TIMEOUT = env.float("CLEVER_LMS_TIMEOUT", default=60.0)
CLEVER_MAX_RETRIES = env.int("CLEVER_MAX_RETRIES", default=5)
CLEVER_BACKOFF_BASE = env.float("CLEVER_BACKOFF_BASE", default=1.0)
CLEVER_BACKOFF_CAP = env.float("CLEVER_BACKOFF_CAP", default=60.0)
# The longest a client waits out one 429 before giving up (seconds).
CLEVER_RATE_LIMIT_MAX_WAIT = env.float("CLEVER_RATE_LIMIT_MAX_WAIT", default=120.0)
# One rate-limit budget per district token shared by every process, in Redis (clever/budget.py):
# on when REDIS_URL is set. Until Clever's X-Ratelimit-* headers say otherwise, a token may send
# CLEVER_RATE_LIMIT_DEFAULT requests per CLEVER_RATE_LIMIT_WINDOW seconds (Clever: 1,200 a minute).
CLEVER_SHARED_RATE_LIMIT = env.bool("CLEVER_SHARED_RATE_LIMIT", default=bool(REDIS_URL))
CLEVER_RATE_LIMIT_DEFAULT = env.int("CLEVER_RATE_LIMIT_DEFAULT", default=1200)
CLEVER_RATE_LIMIT_WINDOW = env.float("CLEVER_RATE_LIMIT_WINDOW", default=60.0)

# --- Roster sync (rostering/) -----------------------------------------------------------------
# Guard: a run that would archive more than this fraction of any type's live rows, or change
# more than this fraction, is held for support staff (Clever's own safety thresholds).
SYNC_GUARD_MAX_DELETED_FRACTION = env.float("SYNC_GUARD_MAX_DELETED_FRACTION", default=0.10)
SYNC_GUARD_MAX_CHANGED_FRACTION = env.float("SYNC_GUARD_MAX_CHANGED_FRACTION", default=0.75)
# Deletions are weighed across the runs of this window (rostering/services/diff.py): a removal
# split between a night's full sync and the next night's, or a burst of incrementals, is held
# as it would be in one run. 36 hours: the previous night's run and everything since.
SYNC_GUARD_WINDOW_SECONDS = env.int("SYNC_GUARD_WINDOW_SECONDS", default=36 * 3600)
# A running sync not heard from for this long is abandoned (its process hung or died); on
# PostgreSQL a dead process is known at once from its session lock (rostering/services/liveness).
SYNC_STALE_AFTER_SECONDS = env.int("SYNC_STALE_AFTER_SECONDS", default=600)
# The recovery sweep (rostering.tasks.recover_syncs): how often beat runs it; how long after
# a requested sync was due, with no run since, its message counts as lost and is sent again;
# how many times at most.
SYNC_RECOVERY_INTERVAL_SECONDS = env.int("SYNC_RECOVERY_INTERVAL_SECONDS", default=120)
SYNC_RECOVERY_GRACE_SECONDS = env.int("SYNC_RECOVERY_GRACE_SECONDS", default=900)
SYNC_RECOVERY_MAX_RESENDS = env.int("SYNC_RECOVERY_MAX_RESENDS", default=3)
# A failed full run younger than this is resumed from its checkpoint by the next run.
SYNC_RESUME_MAX_AGE_SECONDS = env.int("SYNC_RESUME_MAX_AGE_SECONDS", default=86_400)
# Skip a page whose request and bytes match the last full run's and whose mirror range is intact.
SYNC_PAGE_DIGESTS = env.bool("SYNC_PAGE_DIGESTS", default=True)
# Clever keeps events 30 days; an older cursor means a full sync.
CLEVER_EVENT_RETENTION_DAYS = env.int("CLEVER_EVENT_RETENTION_DAYS", default=30)
# How long a district token fetched from /oauth/tokens stays in the cache (seconds): longer than
# the event poll, so a poll that finds nothing is one request (a revoked token gets a 401, which
# looks it up again).
DISTRICT_TOKEN_CACHE_SECONDS = env.int("DISTRICT_TOKEN_CACHE_SECONDS", default=3600)
# Nightly sync: when Celery beat fans out, and how far apart district syncs start. No stagger by
# default: the sync workers pace the night (a sync starts when one is free; prefetch 1), so
# delaying the starts would only leave workers idle (docs/performance.md, the nightly bench).
SYNC_NIGHTLY_HOUR = env.int("SYNC_NIGHTLY_HOUR", default=2)
SYNC_NIGHTLY_MINUTE = env.int("SYNC_NIGHTLY_MINUTE", default=0)
SYNC_STAGGER_SECONDS = env.int("SYNC_STAGGER_SECONDS", default=0)
# Districts with events have /events polled this often (seconds), so a change made in Clever
# reaches the product within minutes (rostering/services/polling.py); 0 switches polling off.
SYNC_EVENTS_POLL_SECONDS = env.int("SYNC_EVENTS_POLL_SECONDS", default=300)
# Days after a district stopped sharing (disconnected or revoked), or a Library-only district's
# last sign-in, before its data is purged (NDPA: 60 days; docs/data-lifecycle.md).
ROSTER_RETENTION_DAYS = env.int("ROSTER_RETENTION_DAYS", default=60)
# Celery beat (beside the sandbox's entry above): the nightly dispatcher (discovery, then one
# staggered sync per connected district); discovery hourly too, half an hour off the dispatcher,
# so a newly shared district shows up in the admin the same day; the recovery sweep every few
# minutes; the event poll every SYNC_EVENTS_POLL_SECONDS; the retention purge an hour before
# the dispatcher.
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE["rostering-nightly-sync"] = {
    "task": "rostering.tasks.nightly_sync",
    "schedule": crontab(hour=SYNC_NIGHTLY_HOUR, minute=SYNC_NIGHTLY_MINUTE),
}
CELERY_BEAT_SCHEDULE["districts-discover"] = {
    "task": "districts.tasks.discover_districts_task",
    "schedule": crontab(minute=(SYNC_NIGHTLY_MINUTE + 30) % 60),
}
CELERY_BEAT_SCHEDULE["rostering-recover-syncs"] = {
    "task": "rostering.tasks.recover_syncs",
    "schedule": float(SYNC_RECOVERY_INTERVAL_SECONDS),
}
if SYNC_EVENTS_POLL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["rostering-poll-events"] = {
        "task": "rostering.tasks.poll_events",
        "schedule": float(SYNC_EVENTS_POLL_SECONDS),
    }
CELERY_BEAT_SCHEDULE["rostering-purge-expired-rosters"] = {
    "task": "rostering.tasks.purge_expired_rosters",
    "schedule": crontab(hour=(SYNC_NIGHTLY_HOUR + 23) % 24, minute=SYNC_NIGHTLY_MINUTE),
}

# --- Encryption at rest (district tokens, sensitive student fields) ---------------------------
# Comma-separated Fernet keys, newest first (see districts/crypto.py for rotation).
# A fixed key, published in this repository, for the embedded demo and tests only: production
# refuses it (anyone could decrypt what it protects).
DEMO_FIELD_ENCRYPTION_KEY = "ZGVtby1vbmx5LWtleS1uZXZlci1pbi1wcm9kdWN0aW8="
if PRODUCTION:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
    if DEMO_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds the published demo key. Make a key of your own with: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
else:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[DEMO_FIELD_ENCRYPTION_KEY])

# --- Logging: never tokens, never children's data ---------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # urllib3 logs full URLs at DEBUG; keep it quiet so query strings never reach the logs.
    "loggers": {
        "urllib3": {"level": "WARNING"},
        # Who viewed children's sensitive fields (IDs only) is an audit trail: kept whatever
        # LOG_LEVEL says.
        "rostering.admin": {"level": "INFO"},
    },
}
if not REDIS_URL:
    # Eager Celery's in-memory broker has no host; kombu warns about that on the first task.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
# Request/task ids on every record, secret-named fields dropped, JSON lines with LOG_FORMAT=json
# (a worker then keeps these handlers); Sentry when SENTRY_DSN is set: config/observability.py.
LOGGING = observability.logging_config(env, LOGGING)
CELERY_WORKER_HIJACK_ROOT_LOGGER = observability.log_format(env) != "json"
observability.init_sentry(env, DJANGO_ENV)

# --- Production hardening (manage.py check --deploy is clean with DJANGO_ENV=production) ------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
    # Static files straight from the app server (runserver serves them in development).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- SSO (sso/): allauth and the Clever provider -----------------------------------------------
# Clever logins go through sso/ (docs/sso.md). Accounts are found by Clever user ID only, never
# by email (Clever does not verify emails): email authentication and auto-connect stay off.
SOCIALACCOUNT_ADAPTER = "sso.adapter.SocialAccountAdapter"
ACCOUNT_ADAPTER = "sso.adapter.AccountAdapter"
SOCIALACCOUNT_PROVIDERS = {
    "clever": {  # sso.identity.PROVIDER
        "APPS": [{"client_id": CLEVER_CLIENT_ID, "secret": CLEVER_CLIENT_SECRET, "key": ""}],
        "VERIFIED_EMAIL": False,
        "EMAIL_AUTHENTICATION": False,
    }
}
# SSO bearer tokens are never stored (they reach only /me, /users/{id}, /districts/{id}).
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_AUTO_SIGNUP = True
# Starting a login only sends the browser to Clever; the callback is bound to the session by
# its single-use state, so a plain link may start it (Clever's own buttons are links).
SOCIALACCOUNT_LOGIN_ON_GET = True
ACCOUNT_LOGIN_METHODS = {"username"}
# Password reset only for accounts that have a password (sso/forms.py).
ACCOUNT_FORMS = {"reset_password": "sso.forms.PasswordResetForm"}
# Failed password sign-ins (the admin's too): 10 a minute from one address, 5 in 5 minutes for
# one username; then even the right password is refused until the window passes. Counted in
# the cache (Redis in production, shared by every web process).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# No "remember me": a password session ends when the browser closes (shared machines).
ACCOUNT_SESSION_REMEMBER = False
# Behind a reverse proxy every request comes from the proxy: count addresses from
# X-Forwarded-For, trusting this many proxies (production assumes one, as it trusts the proxy's
# X-Forwarded-Proto).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if PRODUCTION else 0)
# Second factor (allauth.mfa): an authenticator app (TOTP) and recovery codes. Required of staff
# and superusers in production mode (sso.middleware), optional in the demo.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Clever bridge")
MFA_ADAPTER = "sso.adapter.MFAAdapter"
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=PRODUCTION)
# How long a session that began with a Clever sign-in lasts, from sign-in (seconds). Short:
# classroom devices are shared, and the next launch from Clever is one click.
SSO_SESSION_SECONDS = env.int("SSO_SESSION_SECONDS", default=2 * 3600)
# Mail (password resets): the console in the demo, SMTP from the environment in production.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
# EMAIL_URL, when set, gives the backend and its server in one value (django-environ):
# smtp+tls://user:password@mail.example.org:587 (smtp+ssl:// for 465, smtp:// plain), or
# filemail:////var/mail/bridge (one file per message, the four slashes of an absolute path).
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url_config(EMAIL_URL))
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
LOGIN_REDIRECT_URL = "/account/"
# How long a Clever-initiated login may take to come back with the state we asked for; a
# second state-less code within it is refused rather than bounced again (seconds).
SSO_BOUNCE_SECONDS = env.int("SSO_BOUNCE_SECONDS", default=60)
# How long a verified Clever login waits for "is this your account?" (seconds).
SSO_PENDING_LINK_SECONDS = env.int("SSO_PENDING_LINK_SECONDS", default=600)
# How long exchanged codes are remembered (their SHA-256 only) to refuse replays (seconds).
SSO_CODE_MEMORY_SECONDS = env.int("SSO_CODE_MEMORY_SECONDS", default=86_400)
# Retries of Clever calls made while a person waits on the callback (5xx, no answer).
SSO_CLEVER_MAX_RETRIES = env.int("SSO_CLEVER_MAX_RETRIES", default=1)
# OpenID Connect (docs/sso.md, "Identity tokens"): Clever's published signing keys, and whether
# this app is set up for OIDC with Clever (then a district sign-in without an identity token is
# refused, and a Library sign-in is checked against /userinfo). A token that arrives is always
# checked, whatever this says.
# Empty: CLEVER_OAUTH_BASE + /oauth/certs (read when used, so it follows CLEVER_OAUTH_BASE).
CLEVER_JWKS_URL = env.str("CLEVER_JWKS_URL", default="")
CLEVER_ID_TOKEN_REQUIRED = env.bool("CLEVER_ID_TOKEN_REQUIRED", default=False)
# Clock skew allowed on an identity token's exp and iat (seconds).
SSO_ID_TOKEN_LEEWAY_SECONDS = env.int("SSO_ID_TOKEN_LEEWAY_SECONDS", default=30)
# How long Clever's signing keys are kept before they are fetched again (an unknown key ID
# fetches them at once, once).
SSO_JWKS_CACHE_SECONDS = env.int("SSO_JWKS_CACHE_SECONDS", default=3600)

# --- Matching (matching/) ---------------------------------------------------------------------
# Provisioning asks this function which Clever people already have a product account (the
# accounts matching linked) before it creates one (rostering.services.provisioning).
ROSTERING_EXISTING_USERS = env.str(
    "ROSTERING_EXISTING_USERS", default="matching.selectors.existing_users_for"
)
# Decision zones of the people matcher (docs/matching.md): an automatic link needs this
# probability and a runner-up this many bits less likely; below the review floor: no match.
MATCH_AUTO_PROBABILITY = env.float("MATCH_AUTO_PROBABILITY", default=0.99)
MATCH_REVIEW_PROBABILITY = env.float("MATCH_REVIEW_PROBABILITY", default=0.5)
MATCH_AUTO_MARGIN_BITS = env.float("MATCH_AUTO_MARGIN_BITS", default=5.0)
# District linking (docs/matching.md "District linking"): how long a signed verification link
# an organization admin sends to the Clever district admin stays valid, and the page size of the
# list of unmatched districts.
DISTRICT_LINK_VERIFICATION_MAX_AGE = env.int("DISTRICT_LINK_VERIFICATION_MAX_AGE", default=7 * 24 * 3600)
DISTRICT_LINKING_PAGE_SIZE = env.int("DISTRICT_LINKING_PAGE_SIZE", default=25)
# The evidence behind the ranking is recomputed nightly after discovery and the syncs (and after
# discoveries, syncs, Clever logins and organization edits: matching/tasks.py).
CELERY_BEAT_SCHEDULE["matching-refresh-district-candidates"] = {
    "task": "matching.tasks.refresh_district_candidates_task",
    "schedule": crontab(hour=(SYNC_NIGHTLY_HOUR + 2) % 24, minute=SYNC_NIGHTLY_MINUTE),
}

# --- LMS Connect (lms/) -----------------------------------------------------------------------
# Seconds an LMS write (create/update/delete an assignment, update a submission) may take:
# Clever recommends 15 to 60; lms.services clamps the value to that range.
LMS_WRITE_TIMEOUT = env.float("LMS_WRITE_TIMEOUT", default=45.0)
# The nightly pull reads back assignments due in the last this many days (or later).
LMS_PULL_WINDOW_DAYS = env.int("LMS_PULL_WINDOW_DAYS", default=30)
LMS_PULL_NIGHTLY_HOUR = env.int("LMS_PULL_NIGHTLY_HOUR", default=(SYNC_NIGHTLY_HOUR + 2) % 24)
LMS_PULL_NIGHTLY_MINUTE = env.int("LMS_PULL_NIGHTLY_MINUTE", default=30)
# A teacher's grades form has two fields a student: Django's default (1,000 fields) refused a
# class of 500 with a bare 400. 10,000 still bounds the work a single POST can ask for.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
CELERY_BEAT_SCHEDULE["lms-nightly-pull"] = {
    "task": "lms.tasks.nightly_pull",
    "schedule": crontab(hour=LMS_PULL_NIGHTLY_HOUR, minute=LMS_PULL_NIGHTLY_MINUTE),
}

# --- Operations (operations/): health endpoints and alerts to support staff --------------------
# /health/ runs every check (?format=json; HTTP 500 when one fails); /health/live/ only says the
# process answers (for load balancers). The nightly dispatcher must have run within this many
# hours; a district expected to sync must not fail more than this many nights in a row.
HEALTH_NIGHTLY_MAX_AGE_HOURS = env.int("HEALTH_NIGHTLY_MAX_AGE_HOURS", default=26)
HEALTH_MAX_FAILED_NIGHTS = env.int("HEALTH_MAX_FAILED_NIGHTS", default=3)
# The Celery queues that must each have a worker (empty: the default queue, CELERY_TASK_QUEUES
# and every queue CELERY_TASK_ROUTES routes to).
HEALTH_CELERY_QUEUES = env.list("HEALTH_CELERY_QUEUES", default=[])
# Load balancers probe over plain HTTP inside the network: no HTTPS redirect for the health pages.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
# Alerts (operations/alerts.py): one message per change of state, to ALERT_EMAILS or, when empty,
# every active member of the Support group with an email; and to a Slack-compatible webhook
# (JSON {"text": ...}) when ALERT_WEBHOOK_URL is set (a secret: never logged). ALERT_MODE
# "immediate" sends at once; "digest" collects them for one message a day at ALERT_DIGEST_HOUR.
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_FROM_EMAIL = env.str("ALERT_FROM_EMAIL", default="")
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_TIMEOUT = env.float("ALERT_WEBHOOK_TIMEOUT", default=5.0)
ALERT_MODE = env.str("ALERT_MODE", default="immediate")
if ALERT_MODE not in ("immediate", "digest"):
    raise ImproperlyConfigured(f"ALERT_MODE must be 'immediate' or 'digest', not {ALERT_MODE!r}.")
ALERT_DIGEST_HOUR = env.int("ALERT_DIGEST_HOUR", default=7)
# Celery beat: every hour, "did the nightly run?" (the health page's rule) and alert states whose
# problem was solved; the daily digest (sends nothing unless alerts wait for it).
CELERY_BEAT_SCHEDULE["operations-hourly-checks"] = {
    "task": "operations.tasks.hourly_checks",
    "schedule": crontab(minute=(SYNC_NIGHTLY_MINUTE + 45) % 60),
}
CELERY_BEAT_SCHEDULE["operations-send-digest"] = {
    "task": "operations.tasks.send_digest",
    "schedule": crontab(hour=ALERT_DIGEST_HOUR, minute=0),
}
