"""System check: the login lockout middleware is in every stack that serves logins.

django-axes checks for its own class path in MIDDLEWARE (axes.W002); DevSkyy runs a
subclass (devskyy/core/middleware.py ``AxesMiddleware``), so that check is silenced in
the settings and this one takes its place, for the full stack and the API stack.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

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
