"""System check: every channel backend in MARKETING_CHANNEL_BACKENDS can be imported,
so a mistyped path stops ``manage.py check`` (and start-up) instead of failing sends."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string

from agents_app.marketing.models import Channel


@register()
def channel_backends_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    configured = getattr(settings, "MARKETING_CHANNEL_BACKENDS", {})
    for channel in Channel.values:
        path = configured.get(channel)
        try:
            backend = import_string(path) if path else None
        except ImportError as exc:
            errors.append(Error(f"{channel} channel backend {path!r} cannot be imported: {exc}", id="marketing.E002"))
            continue
        if backend is None or not callable(getattr(backend, "send", None)):
            errors.append(
                Error(f"MARKETING_CHANNEL_BACKENDS has no usable backend for {channel!r}.", id="marketing.E001")
            )
    return errors
