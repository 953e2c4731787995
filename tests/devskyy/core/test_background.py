"""dispatch_later: a task on the queue after a countdown, or on an embedded timer and pool."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import shared_task

from devskyy.core import background
from devskyy.core.background import dispatch_later

_runs: queue.Queue[tuple[str, str, str, float]] = queue.Queue()


@shared_task(name="tests.devskyy.core.record_run")
def record_run(label: str, extra: str = "") -> None:
    _runs.put((label, extra, threading.current_thread().name, time.monotonic()))


@pytest.fixture
def runs(monkeypatch) -> Iterator[queue.Queue[tuple[str, str, str, float]]]:
    """A pool of its own: the shared one's threads may hold database connections from earlier
    tests, which this test (no database) may not touch when a task closes old connections."""
    monkeypatch.setattr(background, "_executor", None)
    while not _runs.empty():
        _runs.get_nowait()
    yield _runs
    background.embedded_executor().shutdown(wait=True)


def test_embedded_it_waits_the_countdown_then_runs_on_the_task_pool(settings, runs) -> None:
    settings.TASKS_EMBEDDED = True
    started = time.monotonic()
    dispatch_later(record_run, "later", countdown=0.3, extra="kw")
    with pytest.raises(queue.Empty):
        runs.get(timeout=0.1)
    label, extra, thread, ran_at = runs.get(timeout=5)
    assert (label, extra) == ("later", "kw")
    assert thread.startswith("devskyy-task")  # the pool, not the timer thread
    assert ran_at - started >= 0.3


@pytest.mark.parametrize("countdown", [0, -5])
def test_embedded_without_a_countdown_it_goes_straight_to_the_pool(settings, runs, countdown: float) -> None:
    settings.TASKS_EMBEDDED = True
    dispatch_later(record_run, "now", countdown=countdown)
    label, _, thread, _ = runs.get(timeout=5)
    assert label == "now"
    assert thread.startswith("devskyy-task")


@pytest.mark.parametrize(("countdown", "sent"), [(12.5, 12.5), (0, 0.0), (-3, 0.0)])
def test_with_a_broker_the_countdown_travels_with_the_message(
    settings, monkeypatch, countdown: float, sent: float
) -> None:
    settings.TASKS_EMBEDDED = False
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(record_run, "apply_async", lambda **options: calls.append(options))
    dispatch_later(record_run, "queued", countdown=countdown, extra="kw")
    assert calls == [{"args": ("queued",), "kwargs": {"extra": "kw"}, "countdown": sent}]
