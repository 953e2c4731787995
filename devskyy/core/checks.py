"""System checks: the login lockout middleware is in every stack that serves logins;
no queue wait outlives the broker's visibility timeout; production keeps generated files
where every service sees them.

django-axes checks for its own class path in MIDDLEWARE (axes.W002); DevSkyy runs a
subclass (devskyy/core/middleware.py ``AxesMiddleware``), so that check is silenced in
the settings and this one takes its place, for the full stack and the API stack.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

LOCKOUT_MIDDLEWARE = ("devskyy.core.middleware.AxesMiddleware", "axes.middleware.AxesMiddleware")


@register()
def lockout_middleware_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in ("MIDDLEWARE", "API_MIDDLEWARE"):
        stack = getattr(settings, name, None)
        if stack is not None and not any(path in stack for path in LOCKOUT_MIDDLEWARE):
            errors.append(
                Error(
                    f"settings.{name} has no login lockout middleware ({LOCKOUT_MIDDLEWARE[0]}).",
                    hint="django-axes turns a lockout into its response only through it.",
                    id="core.E001",
                )
            )
    return errors


# Waits a worker holds a message for, unacknowledged: the longest run of one task, and
# the countdowns of messages that re-queue themselves (agent task retries wait out a
# lease; media jobs poll). Webhook retry waits need no entry: past half the visibility
# timeout they are left to the beat sweep (devskyy.webhooks.services.delivery_schedule).
HELD_MESSAGE_SETTINGS = ("CELERY_TASK_TIME_LIMIT", "TASK_LEASE_SECONDS", "MEDIA_POLL_MAX_SECONDS")


@register()
def visibility_timeout_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.TASKS_EMBEDDED:
        return []
    visibility = settings.CELERY_VISIBILITY_TIMEOUT
    return [
        Warning(
            f"settings.{name} ({getattr(settings, name)} s) is not below CELERY_VISIBILITY_TIMEOUT ({visibility} s).",
            hint=(
                "A message held unacknowledged that long is put back on the queue while its worker still holds "
                "it, once more every visibility timeout (Celery's Redis caveats): raise CELERY_VISIBILITY_TIMEOUT."
            ),
            id="core.W002",
        )
        for name in HELD_MESSAGE_SETTINGS
        if getattr(settings, name) >= visibility
    ]


@register()
def shared_media_storage_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.IS_PRODUCTION or settings.TASKS_EMBEDDED or settings.MEDIA_STORAGE != "filesystem":
        return []
    return [
        Warning(
            "MEDIA_STORAGE is filesystem while tasks run on separate workers.",
            hint=(
                "The task worker writes generated files (3D models, try-on images, themes) under its own MEDIA_ROOT "
                "and the web service serves them from its own: unless both mount one volume, downloads fail and "
                "every redeploy loses the files. Set MEDIA_STORAGE=s3 and MEDIA_S3_BUCKET."
            ),
            id="core.W003",
        )
    ]
