"""The production log line: one JSON object per record, fields in a fixed order."""

from __future__ import annotations

import datetime
import json
import logging
import sys

from devskyy.core.logging import JsonFormatter


def _record(
    msg: str = "GET %s %s", args: tuple[object, ...] = ("/api/v1/agents", 200), **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("devskyy.request", logging.INFO, __file__, 1, msg, args, None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_a_line_has_time_level_logger_message_request_id_then_the_extras() -> None:
    record = _record(request_id="abc", status=200, duration_ms=1.25)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert list(parsed) == ["time", "level", "logger", "message", "request_id", "status", "duration_ms"]
    assert parsed["level"] == "INFO"
    assert parsed["logger"] == "devskyy.request"
    assert parsed["message"] == "GET /api/v1/agents 200"
    assert (parsed["request_id"], parsed["status"], parsed["duration_ms"]) == ("abc", 200, 1.25)
    # The time reads as logging's own default format, to the millisecond.
    assert parsed["time"] == logging.Formatter().formatTime(record)


def test_the_time_follows_each_record_across_seconds() -> None:
    formatter = JsonFormatter()
    first, second = _record(), _record()
    second.created, second.msecs = first.created + 1.5, (first.msecs + 500) % 1000
    for record in (first, second, first):
        assert json.loads(formatter.format(record))["time"] == logging.Formatter().formatTime(record)


def test_exceptions_dates_and_other_values_are_written_as_text() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    record.thing = object()
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["request_id"] is None
    assert parsed["exc_info"].startswith("Traceback (most recent call last):")
    assert parsed["exc_info"].endswith("ValueError: boom\nsecond line")
    assert parsed["when"] == "2026-01-02T03:04:05+00:00"
    assert parsed["thing"].startswith("<object object at")


def test_the_production_logging_config_uses_it() -> None:
    from django.conf import settings

    assert settings.LOGGING["formatters"]["json"] == {"()": "devskyy.core.logging.JsonFormatter"}
