"""Embedded mode's stand-in for celery beat: CELERY_BEAT_SCHEDULE run in the web process.

Production runs ``celery beat`` (render.yaml's devskyy-scheduler), which queues the
periodic tasks: the shop sync, the due-campaign dispatcher and the sweeps that queue
again work whose message or timer was lost. Embedded mode has no beat process, so
``make run`` sets ``EMBEDDED_BEAT=true`` and the server's ASGI application starts this
thread: each entry's task is handed to the embedded pool every ``schedule`` seconds,
the first time one interval after start, as celery beat does. Off by default, so
tests and ``manage.py`` commands that import the application never start it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_running: threading.Event | None = None


def due(schedule: Mapping[str, Mapping[str, Any]], next_at: dict[str, float], now: float) -> list[str]:
    """The entries due at ``now`` (monotonic seconds); moves each one's next time on."""
    names = [name for name in schedule if next_at.setdefault(name, now + float(schedule[name]["schedule"])) <= now]
    for name in names:
        next_at[name] = now + float(schedule[name]["schedule"])
    return names


def start() -> threading.Event | None:
    """Start the thread once per process in embedded mode; returns the event that stops it
    (None when nothing was started: not embedded, off, or already running)."""
    global _running
    if not (settings.TASKS_EMBEDDED and settings.EMBEDDED_BEAT and settings.CELERY_BEAT_SCHEDULE):
        return None
    with _lock:
        if _running is not None:
            return None
        _running = threading.Event()
    schedule = {name: dict(entry) for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    threading.Thread(target=_loop, args=(schedule, _running), name="devskyy-embedded-beat", daemon=True).start()
    logger.info("embedded beat started: %s", ", ".join(sorted(schedule)))
    return _running


def stop() -> None:
    global _running
    with _lock:
        if _running is not None:
            _running.set()
        _running = None


def _loop(schedule: dict[str, dict[str, Any]], stopping: threading.Event) -> None:
    from devskyy.core.background import dispatch_now
    from devskyy.taskqueue import app

    app.loader.import_default_modules()  # what a worker registers at start
    next_at: dict[str, float] = {}
    due(schedule, next_at, time.monotonic())  # the first run: one interval from now
    while not stopping.wait(max(0.05, min(next_at.values()) - time.monotonic())):
        for name in due(schedule, next_at, time.monotonic()):
            try:
                dispatch_now(app.tasks[schedule[name]["task"]])
            except Exception:  # one bad entry must not stop the others
                logger.exception("embedded beat could not queue %s", name)
