"""Task queue: Celery on Redis in production, an in-process executor embedded."""

from __future__ import annotations

from devskyy.core.env import env

from .cache import REDIS_SOCKET_TIMEOUT, REDIS_URL
from .integrations import _every
from .marketing import CELERY_BEAT_SCHEDULE as _BEAT_BEFORE

# Embedded mode runs task bodies on a thread pool inside the web process, off the
# request thread. Production hands them to Celery workers through Redis.
TASKS_EMBEDDED = not REDIS_URL
TASKS_EMBEDDED_THREADS = env.int("TASKS_EMBEDDED_THREADS", 4, minimum=1, maximum=64)
# Embedded mode: run CELERY_BEAT_SCHEDULE in the server process (devskyy/core/embedded_beat.py).
# `make run` turns it on; off by default so that tests and commands never start it.
EMBEDDED_BEAT = env.bool("EMBEDDED_BEAT", default=False)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL) or "memory://"
CELERY_RESULT_BACKEND = None  # results live on our own Task rows, not in the broker
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1, minimum=1, maximum=64)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 900, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", 840, minimum=1)
# A message not acknowledged within this window (its worker died: acks are late) is
# put back on the queue by the next worker that sweeps. Keep it above the task time
# limit in production, or a long task still running is delivered a second time (its
# claim then waits for the lease; it never runs twice to completion).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 300, minimum=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # kombu sweeps for expired unacked messages at worker start and then every
    # interval x throttle seconds; scale the sweep with the timeout (1 s .. 60 s).
    "unacked_restore_interval": max(1, min(60, CELERY_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# Seconds between the liveness marks each worker writes to Redis (read by /health).
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1, maximum=300)

# Agent tasks: a running task holds a lease renewed at each tool checkpoint; a task
# whose lease expired (worker gone) may be claimed again by a re-delivered message.
TASK_LEASE_SECONDS = env.int("TASK_LEASE_SECONDS", 300, minimum=1, maximum=86_400)
# A task's progress events are at least this many seconds apart (coalesced; the row
# always holds the latest progress, and the final one comes with the last event).
TASK_PROGRESS_EVENT_SECONDS = env.float("TASK_PROGRESS_EVENT_SECONDS", 1.0, minimum=0, maximum=3600)
# A pending task not claimed this many seconds after it was created (or last queued
# again) may have lost its queue message: celery beat runs a sweep every
# TASK_REQUEUE_INTERVAL_SECONDS (0 = none; then run manage.py requeue_stale_tasks) that
# queues such tasks again, at most TASK_REQUEUE_BATCH of the oldest per run. A task
# still waiting in a long queue only gets a harmless duplicate message (claims are
# conditional): keep the age above the longest queue wait you expect.
TASK_REQUEUE_INTERVAL_SECONDS = env.int("TASK_REQUEUE_INTERVAL_SECONDS", 60, minimum=0, maximum=3600)
TASK_REQUEUE_PENDING_SECONDS = env.int("TASK_REQUEUE_PENDING_SECONDS", 300, minimum=1, maximum=86_400)
TASK_REQUEUE_BATCH = env.int("TASK_REQUEUE_BATCH", 1000, minimum=1, maximum=100_000)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    **_BEAT_BEFORE,
    **(
        {"requeue-lost-tasks": _every("agents_app.tasks.requeue_lost_tasks", TASK_REQUEUE_INTERVAL_SECONDS)}
        if TASK_REQUEUE_INTERVAL_SECONDS
        else {}
    ),
}
# Task-driven agent_status_update events of one agent, per process: at most one per
# this many seconds, plus a trailing one with the final count (agents_app/events.py).
AGENT_STATUS_EVENT_SECONDS = env.float("AGENT_STATUS_EVENT_SECONDS", 1.0, minimum=0, maximum=3600)
# Extra modules registering agent tools (comma list of dotted paths).
AGENT_EXTRA_TOOL_MODULES = env.list("AGENT_EXTRA_TOOL_MODULES", [])
