"""The Celery application (``celery -A devskyy.taskqueue worker``).

Configuration comes from Django settings (``CELERY_*``). Each worker also writes a
liveness mark to Redis every WORKER_HEARTBEAT_SECONDS so ``/health`` can report how
many workers are really alive without a broadcast round trip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")

app = Celery("devskyy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fix-up closes every database connection before and after each task
# unless told to reuse them: a new PostgreSQL connection per task, the largest cost of
# a short task (PERF P5, bench/README.md). Connections are kept instead and checked
# around each task the way Django checks them around each request (CONN_MAX_AGE,
# CONN_HEALTH_CHECKS): see _check_connections below.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000_000

logger = logging.getLogger(__name__)
# Sorted set: member = worker hostname, score = when its liveness mark expires
# (three heartbeat intervals after it was written), so readers need no settings.
WORKERS_KEY = "devskyy:workers"
_stop = threading.Event()
_hostname: str | None = None


# A value every worker leaves in the broker's Redis. A worker that saw it and then finds
# it gone knows Redis lost its data (restarted without persistence, or flushed), and
# with it every queued message: see _broker_mark.
BROKER_MARK_KEY = "devskyy:broker-mark"


def _broker_mark(client: redis.Redis, seen: str | None) -> tuple[str | None, bool]:
    """(the mark in Redis now, whether this call found it gone after having seen it).
    Only the worker whose SET NX recreates the mark answers True: the others then find
    a mark again, so one loss is acted on once."""
    token = secrets.token_hex(8)
    if client.set(BROKER_MARK_KEY, token, nx=True):
        return token, seen is not None
    current = client.get(BROKER_MARK_KEY)
    return (current.decode() if isinstance(current, bytes) else None), False


def _after_broker_loss() -> None:
    try:
        app.send_task("agents_app.tasks.requeue_lost_tasks", kwargs={"broker_lost": True})
    except Exception as exc:  # noqa: BLE001 - the heartbeat thread must live on; the sweep's age still applies
        logger.warning("could not queue the sweep after the broker's data loss: %s", exc)


def _heartbeat_loop(hostname: str) -> None:
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
    interval = settings.WORKER_HEARTBEAT_SECONDS
    mark: str | None = None
    while not _stop.is_set():
        now = time.time()
        try:
            pipe = client.pipeline(transaction=False)
            pipe.zadd(WORKERS_KEY, {hostname: now + interval * 3})
            pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 3600)
            pipe.execute()
            mark, lost = _broker_mark(client, mark)
            if lost:
                # Pending tasks whose messages were queued are stranded: queue them again
                # now, not after the sweep's age (claims are conditional: a task still
                # queued only gets a duplicate that is skipped). Media steps waiting on a
                # countdown are held by the workers, not Redis; a queued one is found by
                # the media sweep once its job has been still for 5 minutes.
                logger.warning("the broker's Redis lost its data: queueing every pending task again")
                _after_broker_loss()
        except redis.RedisError as exc:
            logger.warning("worker heartbeat to Redis failed: %s", type(exc).__name__)
        _stop.wait(interval)


@task_prerun.connect
@task_postrun.connect
def _check_connections(sender: Any = None, **kwargs: Any) -> None:
    """Close connections past CONN_MAX_AGE or broken (Django's per-request rule)."""
    request = getattr(sender, "request", None)
    if request is not None and getattr(request, "is_eager", False):
        return  # embedded mode runs the task in a thread that manages its own connections
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _freeze_in_pool_process(**kwargs: Any) -> None:
    """A prefork child: what it inherited is start-up state (devskyy/core/gc_tuning.py)."""
    from devskyy.core.gc_tuning import freeze_startup_objects

    freeze_startup_objects(forked=True)


@worker_ready.connect
def _freeze_in_worker(**kwargs: Any) -> None:
    """Thread and solo pools run tasks in this process. (A prefork parent forked its
    children already: no collection, which would copy the pages it shares with them.)"""
    from devskyy.core.gc_tuning import freeze_startup_objects

    freeze_startup_objects(forked=True)


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return
    global _hostname
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}:{os.getpid()}"
    _hostname = hostname
    threading.Thread(target=_heartbeat_loop, args=(hostname,), name="devskyy-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    """Stop marking and remove this worker's mark now, synchronously: the heartbeat
    thread is a daemon and the process may exit before it wakes up."""
    _stop.set()
    if _hostname is None:
        return
    from django.conf import settings

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        client.zrem(WORKERS_KEY, _hostname)
