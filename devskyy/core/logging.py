"""Logging helpers: request id on every record, and scrubbing for Sentry events."""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import threading
import time
import weakref
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


_NOT_EXTRA = _RECORD_ATTRIBUTES | {"request_id"}  # request_id is written among the first fields


def _json_default(value: object) -> str:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


# One encoder for every line: ``json.dumps(..., default=...)`` builds a new one each call.
_ENCODER = json.JSONEncoder(default=_json_default)


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
            if name not in _NOT_EXTRA:
                out[name] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return _ENCODER.encode(out)


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


class _Templates(threading.local):
    """Per thread and call site (logger, code, line): the attributes every LogRecord made
    there shares (where it was logged from, thread, process)."""

    by_site: dict[tuple[str, Any, int], dict[str, Any]]

    def __init__(self) -> None:
        self.by_site = {}


_templates = _Templates()


def _after_fork_in_child() -> None:
    global _templates  # noqa: PLW0603 - a forked child starts with fresh templates
    _templates = _Templates()
    for handler in list(_console_handlers):
        handler._forget_waiting()


_console_handlers: weakref.WeakSet[ConsoleHandler] = weakref.WeakSet()
os.register_at_fork(after_in_child=_after_fork_in_child)


def log_often(logger: logging.Logger, level: int, msg: str, args: tuple[Any, ...], extra: dict[str, Any]) -> None:
    """``logger.log(level, msg, *args, extra=extra)`` for a line written on every request.

    The record goes through the logger's filters and handlers like any other, with every
    attribute a LogRecord has; what is made once per thread (where it was logged from,
    thread and process names) is copied from the first record instead of found again:
    ``findCaller`` walks the stack and ``LogRecord.__init__`` asks for the thread and
    process each time: 11 of the request line's 43 us of CPU (PERF P1, bench/README.md).
    The caller checks ``logger.isEnabledFor(level)`` first.
    """
    caller = sys._getframe(1)
    site = (logger.name, caller.f_code, caller.f_lineno)
    template = _templates.by_site.get(site)
    if template is None:
        path, line, function, _ = logger.findCaller(stacklevel=2)
        first = logger.makeRecord(logger.name, level, path, line, msg, args, None, function)
        template = dict(vars(first))
        _templates.by_site[site] = template
    created = time.time()
    fields = template.copy()
    fields["created"] = created
    fields["msecs"] = int((created - int(created)) * 1000) + 0.0
    fields["relativeCreated"] = (created - logging._startTime) * 1000  # type: ignore[attr-defined]
    fields["msg"] = msg
    fields["args"] = args
    fields["levelno"] = level
    fields["levelname"] = logging.getLevelName(level)
    fields.update(extra)
    record = _new_record(logging.LogRecord)
    record.__dict__ = fields
    logger.handle(record)


_new_record = logging.LogRecord.__new__


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The console handler (stderr), optionally writing lines in batches.

    ``flush_seconds`` 0: every record is written at once (StreamHandler). Above 0
    (LOG_FLUSH_SECONDS; the web server sets it, gunicorn.conf.py): INFO and DEBUG lines
    wait in memory and go out together every ``flush_seconds``, or sooner once 64 KB
    wait, as nginx's buffered access log does. A WARNING or worse goes out at once,
    after the lines before it. One request line per request cost a write system call
    and a wake-up of whatever reads the pipe: 12-24 us of an API request's ~265 us of
    CPU (PERF P1, bench/README.md). What waits is written at exit (``logging.shutdown``); a process
    killed outright loses at most ``flush_seconds`` of INFO lines.
    """

    max_waiting = 64 * 1024

    def __init__(self, flush_seconds: float = 0.0) -> None:
        super().__init__()  # sys.stderr
        self.flush_seconds = flush_seconds
        self._waiting: list[str] = []
        self._waiting_size = 0
        self._flushing = False  # this process's flusher thread runs
        _console_handlers.add(self)

    def _forget_waiting(self) -> None:
        """In a forked child: the lines waiting are the parent's to write, and the
        parent's flusher thread did not come along."""
        self._waiting, self._waiting_size = [], 0
        self._flushing = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.flush_seconds <= 0:
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)
            return
        # Handler.handle holds self.lock around emit.
        self._waiting.append(line)
        self._waiting_size += len(line)
        if record.levelno >= logging.WARNING or self._waiting_size >= self.max_waiting:
            self.flush()
        elif not self._flushing:  # first line in this process (or a forked child)
            self._start_flusher()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._waiting:
                waiting, self._waiting, self._waiting_size = self._waiting, [], 0
                try:
                    self.stream.write("".join(waiting))
                except Exception:  # noqa: BLE001 - as StreamHandler.emit: report, never raise
                    self.handleError(logging.makeLogRecord({"msg": "console write failed"}))
            super().flush()

    def _start_flusher(self) -> None:
        self._flushing = True
        threading.Thread(target=self._flush_every_interval, name="log-flusher", daemon=True).start()

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(self.flush_seconds)
            self.flush()


def flush_console_handlers() -> None:
    """Write the lines every ConsoleHandler holds now: for a process about to end without
    running ``atexit`` (a web worker ended by its signal, devskyy/serving.py)."""
    for handler in list(_console_handlers):
        handler.flush()
