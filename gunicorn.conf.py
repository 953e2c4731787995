"""Production server: ``gunicorn -c gunicorn.conf.py``.

Serves ``devskyy.asgi:application`` (HTTP and WebSockets) with uvicorn workers by
default; WEB_WORKER_CLASS=gthread serves HTTP only through the WSGI app (WebSockets
then need a separate ASGI service). Workers and threads come from the environment.
Prometheus multiprocess files go to a directory wiped at every start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}.") from None


_worker_kind = os.environ.get("WEB_WORKER_CLASS", "uvicorn").strip() or "uvicorn"
if _worker_kind not in ("uvicorn", "gthread"):
    raise SystemExit(f"WEB_WORKER_CLASS must be uvicorn or gthread, got {_worker_kind!r}.")

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("WEB_THREADS", 4)
if _worker_kind == "uvicorn":
    worker_class = "devskyy.serving.Worker"
    wsgi_app = "devskyy.asgi:application"
else:
    worker_class = "gthread"
    wsgi_app = "devskyy.wsgi:application"

timeout = 120
# Render SIGKILLs 30 s after SIGTERM (maxShutdownDelaySeconds): finish in-flight work first.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
keepalive = 5
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
preload_app = False  # touching the database before fork would share sockets
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The web workers write their INFO lines (one per request) in batches every 0.25 s:
# a line per request was a write system call each (devskyy.core.logging.ConsoleHandler).
# Warnings and errors still go out at once. LOG_FLUSH_SECONDS=0 writes every line at once.
os.environ.setdefault("LOG_FLUSH_SECONDS", "0.25")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# --- Prometheus multiprocess mode: a fresh directory per start -------------------------
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
    tempfile.gettempdir(), f"devskyy-metrics-{os.getpid()}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir}"]


def on_starting(server: Any) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def post_worker_init(worker: Any) -> None:
    # In the worker, its app loaded: the collector stops scanning start-up objects.
    from devskyy.core.gc_tuning import freeze_startup_objects

    freeze_startup_objects()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
