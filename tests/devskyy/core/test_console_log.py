"""The console handler's batches, and the request line's cheaper record (PERF P1)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from devskyy.core.logging import ConsoleHandler, RequestContextFilter, log_often
from tests.support.servers import ROOT


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.console_log")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def _handler(log: logging.Logger, flush_seconds: float) -> tuple[ConsoleHandler, io.StringIO]:
    stream = io.StringIO()
    handler = ConsoleHandler(flush_seconds)
    handler.setStream(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.addHandler(handler)
    return handler, stream


def _wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_without_an_interval_every_line_is_written_at_once(logger: logging.Logger) -> None:
    _, stream = _handler(logger, 0.0)
    logger.info("one")
    assert stream.getvalue() == "INFO one\n"
    logger.debug("two")
    assert stream.getvalue() == "INFO one\nDEBUG two\n"


def test_info_lines_wait_for_the_interval_then_go_out_together_in_order(logger: logging.Logger) -> None:
    _, stream = _handler(logger, 0.2)
    started = time.monotonic()
    for n in range(5):
        logger.info("line %d", n)
    assert stream.getvalue() == ""  # waiting in memory
    assert _wait_for(lambda: stream.getvalue() != "")
    assert time.monotonic() - started < 2
    assert stream.getvalue() == "".join(f"INFO line {n}\n" for n in range(5))


def test_a_warning_goes_out_at_once_after_the_lines_before_it(logger: logging.Logger) -> None:
    _, stream = _handler(logger, 60.0)
    logger.info("before")
    logger.warning("trouble")
    assert stream.getvalue() == "INFO before\nWARNING trouble\n"
    logger.info("after")
    assert stream.getvalue() == "INFO before\nWARNING trouble\n"


def test_a_full_batch_goes_out_without_waiting_for_the_interval(logger: logging.Logger) -> None:
    handler, stream = _handler(logger, 60.0)
    line = "x" * 1000
    for _ in range(handler.max_waiting // 1000 + 1):
        logger.info(line)
    assert stream.getvalue().count(line) == handler.max_waiting // 1000 + 1


def test_closing_writes_what_waits(logger: logging.Logger) -> None:
    handler, stream = _handler(logger, 60.0)
    logger.info("last words")
    handler.flush()
    assert stream.getvalue() == "INFO last words\n"


def test_lines_from_many_threads_are_all_written_once(logger: logging.Logger) -> None:
    handler, stream = _handler(logger, 0.05)

    def write(name: str) -> None:
        for n in range(200):
            logger.info("%s-%d", name, n)

    threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(f"INFO t{i}-{n}" for i in range(4) for n in range(200))


_CHILD = textwrap.dedent(
    """
    import logging, os, sys
    from devskyy.core.logging import ConsoleHandler
    handler = ConsoleHandler(60.0)
    handler.setFormatter(logging.Formatter("%(process)d %(message)s"))
    log = logging.getLogger("child")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.info("parent before fork")
    pid = os.fork()
    if pid == 0:
        log.info("child line")
        sys.exit(0)  # a normal exit: logging.shutdown writes what waits
    os.waitpid(pid, 0)
    log.info("parent after fork")
    """
)


def test_a_process_that_exits_writes_its_lines_and_a_forked_child_does_not_repeat_its_parents() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    messages = [line.split(" ", 1)[1] for line in lines]
    assert sorted(messages) == ["child line", "parent after fork", "parent before fork"], done.stderr


class _Keep(logging.Handler):
    """Keeps the records it is given, as they are."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)


def test_the_request_line_record_is_the_record_logger_log_makes(logger: logging.Logger) -> None:
    keep = _Keep()
    keep.addFilter(RequestContextFilter())
    logger.addHandler(keep)
    seen = keep.seen
    extra = {"status": 201, "duration_ms": 1.5}
    logger.log(logging.INFO, "%s %s", "GET", "/x", extra=extra)
    before = time.time()
    log_often(logger, logging.INFO, "%s %s", ("GET", "/x"), extra)
    log_often(logger, logging.WARNING, "%s %s", ("PUT", "/y"), extra)  # a second call reuses the template
    classic, lean, again = seen
    assert set(vars(lean)) == set(vars(classic))
    for name in ("name", "msg", "args", "levelno", "levelname", "process", "processName", "thread", "threadName"):
        assert getattr(lean, name) == getattr(classic, name), name
    assert lean.getMessage() == "GET /x"
    fields = vars(lean)
    assert (fields["status"], fields["duration_ms"], fields["request_id"]) == (201, 1.5, "-")
    assert lean.pathname == __file__
    assert lean.funcName == "test_the_request_line_record_is_the_record_logger_log_makes"
    assert before - 0.01 <= lean.created <= time.time()
    assert lean.msecs == int((lean.created - int(lean.created)) * 1000)
    assert (again.levelname, again.getMessage()) == ("WARNING", "PUT /y")
    assert again.created >= lean.created


def test_the_console_handler_is_the_configured_one_and_writes_each_line_by_default() -> None:
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert console["()"] == "devskyy.core.logging.ConsoleHandler"
    assert console["flush_seconds"] == settings.LOG_FLUSH_SECONDS == 0.0  # only gunicorn.conf.py sets it
    assert any(isinstance(h, ConsoleHandler) for h in logging.getLogger().handlers)


def test_each_call_site_keeps_its_own_location(logger: logging.Logger) -> None:
    keep = _Keep()
    logger.addHandler(keep)
    seen = keep.seen

    def first_site() -> None:
        log_often(logger, logging.INFO, "a", (), {})

    def second_site() -> None:
        log_often(logger, logging.INFO, "b", (), {})

    for _ in range(2):
        first_site()
        second_site()
    assert [(r.funcName, r.getMessage()) for r in seen] == [("first_site", "a"), ("second_site", "b")] * 2
    assert seen[0].lineno != seen[1].lineno
