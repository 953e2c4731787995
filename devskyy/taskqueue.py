"""The Celery application (``celery -A devskyy.taskqueue worker``).

Configuration comes from Django settings (``CELERY_*``). Each worker also writes a
liveness mark to Redis every WORKER_HEARTBEAT_SECONDS so ``/health`` can report how
many workers are really alive without a broadcast round trip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")

app = Celery("devskyy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)
# Sorted set: member = worker hostname, score = time of its last liveness mark.
WORKERS_KEY = "devskyy:workers"
_stop = threading.Event()
_heartbeat_thread: threading.Thread | None = None


def _heartbeat_loop(hostname: str) -> None:
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
    interval = settings.WORKER_HEARTBEAT_SECONDS
    while not _stop.is_set():
        now = time.time()
        try:
            pipe = client.pipeline(transaction=False)
            pipe.zadd(WORKERS_KEY, {hostname: now})
            pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - interval * 30)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("worker heartbeat to Redis failed: %s", type(exc).__name__)
        _stop.wait(interval)
    with contextlib.suppress(redis.RedisError):
        client.zrem(WORKERS_KEY, hostname)


def live_worker_count(client: redis.Redis, heartbeat_seconds: int) -> int:
    """Workers whose last liveness mark is younger than three heartbeat intervals."""
    count: int = client.zcount(WORKERS_KEY, time.time() - heartbeat_seconds * 3, "+inf")  # type: ignore[assignment]
    return count


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return
    global _heartbeat_thread
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}:{os.getpid()}"
    _heartbeat_thread = threading.Thread(
        target=_heartbeat_loop, args=(hostname,), name="devskyy-heartbeat", daemon=True
    )
    _heartbeat_thread.start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    _stop.set()
    # Wait for the thread to remove this worker's mark: as a daemon thread it would
    # otherwise die with the process first, and /health would count a dead worker.
    if _heartbeat_thread is not None:
        _heartbeat_thread.join(timeout=3)
