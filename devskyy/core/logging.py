"""Logging helpers: request id on every record, and scrubbing for Sentry events."""

from __future__ import annotations

import datetime
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from devskyy.core.context import current_request_id

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

_SENSITIVE_HEADERS = {"authorization", "cookie", "x-api-key", "x-wc-webhook-signature", "proxy-authorization"}


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            record.request_id = current_request_id()
        return True


# Attributes every LogRecord has: what is not among them was passed as ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _json_default(value: object) -> str:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``,
    ``request_id``, then every ``extra`` field, then ``exc_info`` / ``stack_info`` text.

    What python-json-logger wrote for this format, with the work done once per line
    kept small: every API request logs one line, and that formatter was 4% of the
    request's CPU (PERF P1, bench/README.md). The second of ``time`` is formatted once
    per second; values JSON cannot hold are written as text (dates in ISO 8601).
    """

    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        cached = self._second
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created)))
            self._second = cached
        fields = record.__dict__
        out: dict[str, Any] = {
            "time": f"{cached[1]},{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": fields.get("request_id"),
        }
        for name, value in fields.items():
            if name not in _RECORD_ATTRIBUTES and name != "request_id":
                out[name] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=_json_default)


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
