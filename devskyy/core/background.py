"""Hand background work to the task queue: after the current transaction commits, or after a countdown.

Production sends Celery tasks to the workers through Redis. Embedded mode (no
REDIS_URL) runs the same task code on a small thread pool in the web process, off the
request thread, so the platform works with no services at all.

Work handed over after a commit (``after_commit``, ``enqueue``) is already recorded in
the database when the broker is asked to take it. If Redis cannot be reached then, the
request that wrote it still succeeds: a 500 after the commit would tell the client its
write failed and invite a duplicate. The failure is logged and counted
(``task_queue_send_failures_total``), the caller may mark the row, and every kind of
queued work has a sweep that queues it again once the broker is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import redis
from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

logger = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")
_executor: ThreadPoolExecutor | None = None


def embedded_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.TASKS_EMBEDDED_THREADS, thread_name_prefix="devskyy-task")
    return _executor


def embedded_backlog() -> int:
    """Tasks submitted to the embedded pool that have not started yet."""
    if _executor is None:
        return 0
    return _executor._work_queue.qsize()


def _run_embedded(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    close_old_connections()
    try:
        result = task.apply(args=args, kwargs=kwargs)
        if result.failed():
            logger.error("embedded task %s failed: %s", task.name, result.result)
    finally:
        close_old_connections()


def _dispatch(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # dispatch_later calls this, not dispatch_now: a test's stand-in for dispatch_now
    # collects what was queued with it and leaves timed work alone.
    if settings.TASKS_EMBEDDED:
        embedded_executor().submit(_run_embedded, task, args, kwargs)
    else:
        task.apply_async(args=args, kwargs=kwargs)


def dispatch_now(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    _dispatch(task, args, kwargs)


def dispatch_later(task: Task[Any, Any], *args: Any, countdown: float, **kwargs: Any) -> None:
    """Run ``task`` on the queue after ``countdown`` seconds (at once when it is not positive).

    Celery keeps the countdown in the broker; embedded mode waits on a daemon timer thread
    and then hands the task to the in-process pool. A restart loses an embedded timer, so
    every caller keeps a sweep that queues overdue work again. Not tied to a transaction:
    callers inside one defer this with ``transaction.on_commit``.
    """
    if not settings.TASKS_EMBEDDED:
        task.apply_async(args=args, kwargs=kwargs, countdown=max(0.0, countdown))
        return
    if countdown <= 0:
        _dispatch(task, args, kwargs)
        return
    timer = threading.Timer(countdown, _fire, args=(task, args, kwargs))
    timer.daemon = True
    with _timers_lock:
        _timers.add(timer)
    timer.start()


_timers: set[threading.Timer] = set()
_timers_lock = threading.Lock()


def _fire(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    timer = threading.current_thread()  # the Timer itself
    if isinstance(timer, threading.Timer):
        with _timers_lock:
            _timers.discard(timer)
    _dispatch(task, args, kwargs)


def cancel_embedded_timers() -> int:
    """Cancel the embedded timers that have not fired yet; how many there were.

    Tests call it after each test, so that one test's timed work (a webhook or media
    retry seconds later) never runs against the next test's database."""
    with _timers_lock:
        pending = list(_timers)
        _timers.clear()
    for timer in pending:
        timer.cancel()
    return len(pending)


# What sending to an unreachable broker raises: kombu wraps the Redis client's errors.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    BrokerOperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


_broker_down_until = 0.0  # monotonic: until then, after-commit sends are not tried


def after_commit(send: Callable[[], None], *, task: str, on_failure: Callable[[], None] | None = None) -> None:
    """Run ``send`` (a dispatch of ``task`` to the queue) once the surrounding transaction,
    if any, has committed. A broker that cannot be reached is logged and counted, then
    ``on_failure`` runs (e.g. to mark the row for its sweep); the caller goes on.

    After a failure, sends are not tried for REDIS_BREAKER_SECONDS: a Redis that hangs
    costs one request a socket timeout, not every request (each would wait it out)."""

    def run() -> None:
        global _broker_down_until
        if time.monotonic() >= _broker_down_until:
            try:
                send()
                return
            except BROKER_ERRORS as exc:
                _broker_down_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS
                logger.warning("task queue unreachable: %s not queued (%s); its sweep queues it again", task, exc)
        from devskyy.core.metrics import TASK_QUEUE_SEND_FAILURES

        TASK_QUEUE_SEND_FAILURES.labels(task=task).inc()
        if on_failure is not None:
            on_failure()

    transaction.on_commit(run)


def mark_enqueue_failed(rows: QuerySet[Any]) -> None:
    """An ``on_failure`` for work whose rows carry ``enqueue_failed_at``: stamp them so
    their sweep queues them at its next run. Best effort: unstamped, the sweep still
    finds them once they are old enough."""
    try:
        rows.update(enqueue_failed_at=timezone.now())
    except DatabaseError as exc:
        logger.warning("could not mark %s for its sweep (%s)", rows.model.__name__, type(exc).__name__)


def enqueue(task: Task[Any, Any], *args: Any, on_failure: Callable[[], None] | None = None, **kwargs: Any) -> None:
    """Queue ``task`` once the surrounding transaction (if any) has committed; a broker
    that cannot be reached then is survived as ``after_commit`` says."""
    after_commit(lambda: dispatch_now(task, *args, **kwargs), task=task.name, on_failure=on_failure)


def periodic_task(name: str) -> Callable[[Callable[_P, _R]], Task[_P, _R]]:
    """Decorator for a task beat queues (CELERY_BEAT_SCHEDULE): acknowledged after it ran,
    retried with backoff while the database is away. Each one claims its work, so a
    duplicate run (or a manual command at the same time) is harmless."""
    return shared_task(
        name=name, acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5
    )
