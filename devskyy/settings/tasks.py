"""Task queue: Celery on Redis in production, an in-process executor embedded."""

from __future__ import annotations

from devskyy.core.env import env

from .cache import REDIS_SOCKET_TIMEOUT, REDIS_URL

# Embedded mode runs task bodies on a thread pool inside the web process, off the
# request thread. Production hands them to Celery workers through Redis.
TASKS_EMBEDDED = not REDIS_URL
TASKS_EMBEDDED_THREADS = env.int("TASKS_EMBEDDED_THREADS", 4, minimum=1, maximum=64)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL) or "memory://"
CELERY_RESULT_BACKEND = None  # results live on our own Task rows, not in the broker
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 900, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", 840, minimum=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged within this window is re-delivered to another worker:
    # it must exceed the longest task time limit.
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 300,
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
