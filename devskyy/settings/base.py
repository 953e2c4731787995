"""Core Django settings and the deployment mode."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import django_stubs_ext

from devskyy.core.env import ConfigError, env
from devskyy.core.s3_config import s3_storage

# Lets typed code subscript Django generics at runtime (ModelAdmin[Model], ...).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VERSION = "0.2.0"

ENVIRONMENT = env.choice("ENVIRONMENT", "development", ("development", "staging", "production"))
# Staging runs with production's guarantees: same required secrets, same hardening.
IS_PRODUCTION = ENVIRONMENT in ("staging", "production")
DEBUG = env.bool("DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    raise ConfigError("DEBUG must be false when ENVIRONMENT is staging or production.")

_PRODUCTION_WHY = f"when ENVIRONMENT={ENVIRONMENT}"
_MIN_SECRET_CHARS = 32
# Outside production, secrets not in the environment are generated once and kept in this
# file (mode 0600, under the git-ignored var/), so every process of an embedded platform
# (runserver, manage.py commands, a second worker) and every restart shares them: the
# SQLite database's encrypted columns and sessions stay readable. Production never uses it.
EMBEDDED_SECRETS_FILE = Path(env.str("EMBEDDED_SECRETS_FILE", str(BASE_DIR / "var" / "embedded-secrets.json")))
_SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET_KEY", "ENCRYPTION_MASTER_KEY")
GENERATED_SECRETS: list[str] = []
_stored_secrets: dict[str, str] | None = None


def _embedded_secrets() -> dict[str, str]:
    """The generated secrets, created atomically by the first process that needs them."""
    global _stored_secrets
    if _stored_secrets is not None:
        return _stored_secrets
    path = EMBEDDED_SECRETS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = {name: secrets.token_urlsafe(48) for name in _SECRET_NAMES}
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(fresh, handle)
        try:
            os.link(temporary, path)  # fails if another process won the race: use theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the embedded secrets file {path}: {exc}") from exc
    if not isinstance(stored, dict) or not all(isinstance(stored.get(n), str) for n in _SECRET_NAMES):
        raise ConfigError(f"The embedded secrets file {path} is damaged; delete it to generate new secrets.")
    _stored_secrets = stored
    return stored


def _secret(name: str) -> str:
    if IS_PRODUCTION:
        value = env.required_str(name, why=_PRODUCTION_WHY)
        if len(value) < _MIN_SECRET_CHARS:
            raise ConfigError(f"{name} must be at least {_MIN_SECRET_CHARS} characters long.")
        return value
    supplied = env.raw(name)
    if supplied is None:
        GENERATED_SECRETS.append(name)
        return _embedded_secrets()[name]
    return supplied


def _django_secret_key(raw: str) -> str:
    # Render's generateValue gives 44 characters; `check --deploy` wants 50 or more.
    # Stretch short keys deterministically (same input, same key on every instance)
    # so sessions and signatures stay valid across workers and restarts.
    if len(raw) >= 50:
        return raw
    return "devskyy-" + hashlib.sha256(raw.encode()).hexdigest()


SECRET_KEY = _django_secret_key(_secret("SECRET_KEY"))
JWT_SECRET_KEY = _secret("JWT_SECRET_KEY")
ENCRYPTION_MASTER_KEY = _secret("ENCRYPTION_MASTER_KEY")
# Old master keys still readable while `manage.py rotate_encryption_key` re-encrypts.
ENCRYPTION_PREVIOUS_KEYS = env.list("ENCRYPTION_PREVIOUS_KEYS", [])

if IS_PRODUCTION:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ConfigError(f"ALLOWED_HOSTS is required {_PRODUCTION_WHY}.")
    if "*" in ALLOWED_HOSTS:
        raise ConfigError("ALLOWED_HOSTS must list host names; '*' is refused in production.")
else:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

ADMIN_URL = env.str("ADMIN_URL", "admin/").strip("/") + "/"

INSTALLED_APPS = [
    # daphne only makes `manage.py runserver` serve WebSockets (`make run`). Production
    # serves through gunicorn + uvicorn (gunicorn.conf.py), and the app's import of
    # daphne.server loads Twisted and Autobahn: ~35 MB and ~0.7 s in every web and task
    # process (PERF P6/P7, bench/README.md).
    *([] if IS_PRODUCTION else ["daphne"]),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_api_key",
    "axes",
    "devskyy.core",
    "devskyy.feed",
    "devskyy.webhooks",
    "agents_app",
    "commerce_app",
    "health_app",
]

MIDDLEWARE = [
    "devskyy.core.middleware.RequestContextMiddleware",
    "devskyy.core.metrics.PrometheusMiddleware",
    # Per-minute/hour request figures in Redis for the monitoring API (one pipelined write).
    "devskyy.core.request_stats.RequestStatsMiddleware",
    "devskyy.core.cors.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication (session users) and CORS (a 429 keeps its CORS headers).
    "devskyy.core.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a django-axes lockout flag into the lockout response.
    "devskyy.core.middleware.AxesMiddleware",
]
# axes.W002 looks for axes' own class path; DevSkyy's subclass stands in for it and
# devskyy/core/checks.py (core.E001) checks it is in every stack instead.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
# Layers that serve only browser pages (admin, dashboard, static files): the JSON API
# and the probes run without them (devskyy/core/stacks.py; PERF P1/P3, bench/README.md).
# false: every request through the whole MIDDLEWARE (the benchmarks' comparison point).
MIDDLEWARE_BY_ROUTE = env.bool("MIDDLEWARE_BY_ROUTE", default=True)
_PAGE_ONLY_MIDDLEWARE = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
API_MIDDLEWARE = [name for name in MIDDLEWARE if name not in _PAGE_ONLY_MIDDLEWARE]
# /live, /ready, /health: public GETs that read no session, user or cookie.
PROBE_MIDDLEWARE = [
    "devskyy.core.middleware.RequestContextMiddleware",
    "devskyy.core.metrics.PrometheusMiddleware",
    "devskyy.core.request_stats.RequestStatsMiddleware",
    "devskyy.core.cors.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
]

# Admin messages live in the session. Django's default (cookie, falling back to the
# session) builds a cookie signer on every request, admin or not: 6% of a /live
# request's CPU (PERF P3, bench/README.md).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "devskyy.urls"
WSGI_APPLICATION = "devskyy.wsgi.application"
ASGI_APPLICATION = "devskyy.asgi.application"

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
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(BASE_DIR / "media")))
# Generated files (3D models, try-on images, theme zips) are written by the task worker
# and served by the web service. ``filesystem`` (MEDIA_ROOT) suits the embedded platform
# and hosts where every process shares one disk; separate services (render.yaml) each
# have their own, so production keeps them in an S3-compatible bucket (AWS S3,
# Cloudflare R2, MinIO, ...): devskyy/core/s3_storage.py, system check core.W003.
MEDIA_STORAGE = env.choice("MEDIA_STORAGE", "filesystem", ("filesystem", "s3"))
# /health reports the disk store degraded below this much free space.
STORAGE_MIN_FREE_MB = env.int("STORAGE_MIN_FREE_MB", 100, minimum=0)
_default_storage: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if MEDIA_STORAGE == "s3":
    _default_storage = s3_storage(env)
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}
# Outside production, serve static files straight from the apps (no collectstatic step).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request bodies: a bound on what one request may make us parse.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024, minimum=1024)

if GENERATED_SECRETS:
    logging.getLogger("devskyy.settings").warning(
        "Development mode: %s generated once and kept in %s; production takes them from the environment.",
        ", ".join(GENERATED_SECRETS),
        EMBEDDED_SECRETS_FILE,
    )

# --- Serving --------------------------------------------------------------------------
# How the ASGI app serves plain HTTP: "wsgi" = Django's WSGI handler on a thread pool
# through devskyy.wsgi_bridge (measured fastest, see asgi.py), "a2wsgi" = the same
# through the a2wsgi adapter (the former default, kept for comparison),
# "asgi" = Django's ASGI handler.
ASGI_HTTP_MODE = env.choice("ASGI_HTTP_MODE", "wsgi", ("wsgi", "a2wsgi", "asgi"))
# 4: measured faster than 8 for P1 (less GIL contention), with a lower p99 (bench/README.md).
WEB_THREADS = env.int("WEB_THREADS", 4, minimum=1, maximum=256)
# Freeze the objects alive after a worker's start-up out of the garbage collector's
# scans (devskyy/core/gc_tuning.py): ~120 us less CPU per /live request.
GC_FREEZE_AFTER_START = env.bool("GC_FREEZE_AFTER_START", default=True)
# A request body over this is refused with 413 before it is read (wsgi mode).
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)

# Seed commands `manage.py bootstrap_embedded` runs (each idempotent).
EMBEDDED_SEED_COMMANDS: list[str] = ["seed_agents", "seed_demo_shop"]
