"""The ``metrics_update`` publisher: one per cluster, every METRICS_FEED_INTERVAL_SECONDS.

Each web process starts the loop when its first WebSocket connects; only the process
holding a short Redis lease (embedded: the only process) computes and sends, so the
figures are computed once per interval, not once per socket or per process. The
leader also purges feed events past EVENT_RETENTION_HOURS.

``metrics_update`` payload (``data``), every figure measured, null when not measured:

``tasks``                 {pending, running, completed_24h, failed_24h, cancelled_24h}
``running_tasks``         tasks running now
``tasks_finished_per_minute``, ``success_rate_24h`` (percent), ``events_per_second``
``queue``                 {backend, waiting}
``http``                  requests served by every web worker (Prometheus counters and
                          histogram, PrometheusMiddleware) over the last publisher window:
                          {measured_at, window_seconds, requests, request_rate (per second),
                          error_rate (percent of responses that were 5xx; null without
                          requests), latency_p50_ms, latency_p95_ms (histogram estimates,
                          null without requests)}; null until the publisher has two
                          readings, and when ENABLE_METRICS is off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from datetime import timedelta
from typing import Any

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from agents_app.models import AgentTask, TaskStatus
from devskyy.core.background import embedded_backlog
from devskyy.core.events import deliver, purge_expired, utc_iso
from devskyy.core.metrics import histogram_quantile, http_totals
from devskyy.feed.models import FeedEvent

logger = logging.getLogger(__name__)
LEADER_KEY = "devskyy:feed:metrics-leader"
_PURGE_EVERY_SECONDS = 600
_token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
_task: asyncio.Task[None] | None = None
_redis: redis.Redis | None = None
# The publisher's previous cumulative HTTP reading (monotonic time, totals) and the
# figures of its last window, which a socket connecting between ticks receives.
_http_previous: tuple[float, tuple[float, float, dict[float, float]]] | None = None
_http_last: dict[str, Any] | None = None


def http_window() -> dict[str, Any] | None:
    """Request rate, error rate and latency since the previous call (the publisher's
    window), from the cluster-wide Prometheus figures. None on the first call."""
    global _http_previous, _http_last
    if not settings.ENABLE_METRICS:
        return None
    now, current = time.monotonic(), http_totals()
    previous, _http_previous = _http_previous, (now, current)
    if previous is None:
        return None
    elapsed = now - previous[0]
    requests = max(0.0, current[0] - previous[1][0])
    errors = max(0.0, current[1] - previous[1][1])
    window = {b: max(0.0, n - previous[1][2].get(b, 0.0)) for b, n in current[2].items()}
    p50, p95 = histogram_quantile(0.5, window), histogram_quantile(0.95, window)
    _http_last = {
        "measured_at": utc_iso(),
        "window_seconds": round(elapsed, 2),
        "requests": int(requests),
        "request_rate": round(requests / elapsed, 3) if elapsed > 0 else None,
        "error_rate": round(100 * errors / requests, 2) if requests else None,
        "latency_p50_ms": round(p50 * 1000, 1) if requests and p50 is not None else None,
        "latency_p95_ms": round(p95 * 1000, 1) if requests and p95 is not None else None,
    }
    return _http_last


def metrics_snapshot() -> dict[str, Any]:
    """Figures measured now from the database (and the broker when there is one)."""
    now = timezone.now()
    minute_ago, day_ago = now - timedelta(minutes=1), now - timedelta(hours=24)
    counts = AgentTask.objects.aggregate(
        pending=Count("id", filter=Q(status=TaskStatus.PENDING)),
        running=Count("id", filter=Q(status=TaskStatus.RUNNING)),
        completed_24h=Count("id", filter=Q(status=TaskStatus.COMPLETED, finished_at__gte=day_ago)),
        failed_24h=Count("id", filter=Q(status=TaskStatus.FAILED, finished_at__gte=day_ago)),
        cancelled_24h=Count("id", filter=Q(status=TaskStatus.CANCELLED, finished_at__gte=day_ago)),
        finished_last_minute=Count("id", filter=Q(finished_at__gte=minute_ago)),
    )
    events_last_minute = FeedEvent.objects.filter(created_at__gte=minute_ago).count()
    finished = counts["completed_24h"] + counts["failed_24h"]
    return {
        "tasks": {
            "pending": counts["pending"],
            "running": counts["running"],
            "completed_24h": counts["completed_24h"],
            "failed_24h": counts["failed_24h"],
            "cancelled_24h": counts["cancelled_24h"],
        },
        "running_tasks": counts["running"],
        "tasks_finished_per_minute": counts["finished_last_minute"],
        "success_rate_24h": round(100 * counts["completed_24h"] / finished, 1) if finished else None,
        "events_per_second": round(events_last_minute / 60, 3),
        "queue": _queue_depth(),
        "http": _http_last,
    }


def _client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _redis


def _queue_depth() -> dict[str, Any]:
    if settings.TASKS_EMBEDDED:
        return {"backend": "in-process", "waiting": embedded_backlog()}
    try:
        waiting: int = _client().llen("celery")  # type: ignore[assignment]
    except redis.RedisError:
        return {"backend": "celery", "waiting": None}
    return {"backend": "celery", "waiting": waiting}


def _lead(ttl: float) -> bool:
    """Hold (or renew) the cluster-wide publisher lease; True when this process leads."""
    if not settings.REDIS_URL:
        return True
    client = _client()
    try:
        if client.set(LEADER_KEY, _token, nx=True, px=int(ttl * 1000)):
            return True
        if client.get(LEADER_KEY) == _token.encode():
            client.pexpire(LEADER_KEY, int(ttl * 1000))
            return True
    except redis.RedisError:
        return False
    return False


def _tick(ttl: float, purge_due: bool) -> dict[str, Any] | None:
    if not _lead(ttl):
        return None
    if purge_due:
        purged = purge_expired()
        if purged:
            logger.info("purged %d feed events past retention", purged)
    http_window()
    return metrics_snapshot()


def publish_snapshot(data: dict[str, Any]) -> None:
    """Broadcast one ``metrics_update`` to every web process (not stored: no ``seq``)."""
    deliver("metrics", "metrics_update", {"data": data}, "", "", None, False)


async def _run() -> None:
    interval = settings.METRICS_FEED_INTERVAL_SECONDS
    last_purge = 0.0
    while True:
        # Sleep first: a socket on /ws/metrics gets a snapshot when it connects.
        await asyncio.sleep(interval)
        started = time.monotonic()
        purge_due = started - last_purge > _PURGE_EVERY_SECONDS
        try:
            data = await database_sync_to_async(_tick)(interval * 3, purge_due)
            if purge_due and data is not None:
                last_purge = started
            if data is not None:
                await database_sync_to_async(publish_snapshot)(data)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            logger.warning("metrics_update not published: %s", type(exc).__name__)
        except Exception:  # noqa: BLE001 - the publisher must outlive one bad tick (e.g. DB restart)
            logger.exception("metrics_update tick failed")


def ensure_running() -> None:
    """Start this process's publisher loop once (called from a consumer's connect)."""
    global _task
    loop = asyncio.get_running_loop()
    if _task is None or _task.done() or _task.get_loop() is not loop:
        _task = loop.create_task(_run())
