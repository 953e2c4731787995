"""Logging, metrics and error reporting."""

from __future__ import annotations

from typing import Any

from devskyy.core.env import env

from .base import ENVIRONMENT, IS_PRODUCTION, VERSION

LOG_LEVEL = env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")).upper()
LOG_FORMAT = env.choice("LOG_FORMAT", "json" if IS_PRODUCTION else "text", ("json", "text"))
# 0: each log line is written at once. Above 0: INFO and DEBUG lines are written in
# batches this often (WARNING and worse at once); the web server sets 0.25
# (gunicorn.conf.py, devskyy.core.logging.ConsoleHandler).
LOG_FLUSH_SECONDS = env.float("LOG_FLUSH_SECONDS", 0.0, minimum=0.0, maximum=5.0)
ENABLE_METRICS = env.bool("ENABLE_METRICS", default=True)
# Request figures for the monitoring API are summed per process and written to Redis
# this often (one pipeline for all requests since the last write) instead of one
# pipeline per request; 0 writes every request at once (devskyy/core/request_stats.py).
REQUEST_STATS_FLUSH_SECONDS = env.float("REQUEST_STATS_FLUSH_SECONDS", 1.0, minimum=0.0, maximum=60.0)
SENTRY_DSN = env.url("SENTRY_DSN", schemes=("https", "http"))

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "devskyy.core.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "devskyy.core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "()": "devskyy.core.logging.ConsoleHandler",
            "flush_seconds": LOG_FLUSH_SECONDS,
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},  # our middleware logs each request once
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}

if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    from devskyy.core.logging import scrub_sentry_event

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=ENVIRONMENT,
        release=f"devskyy@{VERSION}",
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        before_send=scrub_sentry_event,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0.0, maximum=1.0),
    )
