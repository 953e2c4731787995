"""Logging helpers: request id on every record, and scrubbing for Sentry events."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from devskyy.core.context import current_request_id

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

_SENSITIVE_HEADERS = {"authorization", "cookie", "x-api-key", "x-wc-webhook-signature", "proxy-authorization"}


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def scrub_sentry_event(event: Event, hint: Hint) -> Event | None:
    """Drop credentials from an event before it leaves the process."""
    request = event.get("request")
    if not request:
        return event
    headers = request.get("headers")
    if isinstance(headers, dict):
        for key in list(headers):
            if key.lower() in _SENSITIVE_HEADERS:
                headers[key] = "[scrubbed]"
    request.pop("cookies", None)
    request.pop("data", None)
    return event


class Throttled:
    """Lets a repeated log message through at most once per ``interval`` seconds.

    Used where a failing dependency would otherwise log on every request.
    """

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self._logger = logger
        self._interval = interval
        self._next_at = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next_at:
            self._suppressed += 1
            return
        suppressed, self._suppressed = self._suppressed, 0
        self._next_at = now + self._interval
        self._logger.warning(message + " (%d similar messages suppressed)", *args, suppressed)
