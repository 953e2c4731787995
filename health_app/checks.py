"""Dependency checks behind /health and /ready, each measured when asked.

Checks run concurrently on a small thread pool under one deadline, so a hung
dependency shows up as ``timeout`` after HEALTH_DEADLINE_SECONDS instead of hanging
the probe. A check that is still stuck from an earlier probe is not started again
(the probe waits on the same attempt), so a dead dependency cannot exhaust the pool.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections, connection, connections
from django.db.migrations.executor import MigrationExecutor

from agents_app.selectors import agent_counts
from devskyy.core import encryption
from devskyy.core.background import embedded_backlog
from devskyy.core.storage import bucket_outcome
from devskyy.taskqueue import WORKERS_KEY

OK = "ok"
DEGRADED = "degraded"
DOWN = "down"
NOT_CONFIGURED = "not_configured"
DISABLED = "disabled"
TIMEOUT = "timeout"

_REDIS_PROBE_TIMEOUT = 0.5


@dataclass
class CheckResult:
    status: str
    latency_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.latency_ms is not None:
            body["latency_ms"] = round(self.latency_ms, 2)
        body.update(self.details)
        return body


def _timed(fn: Callable[[], dict[str, Any]]) -> CheckResult:
    started = time.perf_counter()
    try:
        details = fn()
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure as "down"
        return CheckResult(DOWN, (time.perf_counter() - started) * 1000, {"error": _describe(exc)})
    status = details.pop("status", OK)
    return CheckResult(status, (time.perf_counter() - started) * 1000, details)


def _describe(exc: BaseException) -> str:
    # Class name and first line only: messages can carry host names, never secrets,
    # but a probe answer has no use for a traceback.
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


# --- database --------------------------------------------------------------------------
def _database_probe() -> dict[str, Any]:
    """One query, timed: the agent counts /health reports double as the round trip.

    The query is also the kept connection's health check. Django's (CONN_HEALTH_CHECKS)
    would send a ``SELECT 1`` before it on every probe, a round trip more; instead, when
    the kept connection turns out broken (a restarted server, a terminated backend), it
    is closed and the query runs once more on a new connection, so a probe after a
    recovery reports what is true now, as the pre-check made it do. (In pool mode no
    connection is kept between probes: the pool checks the one it hands out.)"""
    close_old_connections()
    kept = connection.connection is not None
    if kept:
        # Django's own flag (BaseDatabaseWrapper, set after its check); not in the stubs.
        connection.health_check_done = True  # type: ignore[attr-defined]
    try:
        for attempt in (1, 2):
            try:
                return _agent_counts_timed()
            except DatabaseError:
                connection.close_if_unusable_or_obsolete()
                # Real unless it was the first try on a kept connection that is now
                # closed as broken: then once more, on a new connection.
                if attempt == 2 or not kept or connection.connection is not None:
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")
    finally:
        close_old_connections()


def _agent_counts_timed() -> dict[str, Any]:
    started = time.perf_counter()
    counts = agent_counts()
    query_ms = (time.perf_counter() - started) * 1000
    return {"query_ms": round(query_ms, 2), "vendor": connection.vendor, "agents": counts}


_migrations_applied = False
_migrations_lock = threading.Lock()


def _migrations_probe() -> dict[str, Any]:
    """Whether every migration is applied; once true it stays true for this process."""
    global _migrations_applied
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if _migrations_applied:
            return {"migrations": "applied"}
        with _migrations_lock:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if plan:
                return {"status": DOWN, "migrations": "pending", "pending": len(plan)}
            _migrations_applied = True
        return {"migrations": "applied"}
    finally:
        close_old_connections()


# --- redis-backed services -------------------------------------------------------------
_redis_clients: dict[str, redis.Redis] = {}


def _probe_client(url: str) -> redis.Redis:
    client = _redis_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url,
            socket_timeout=_REDIS_PROBE_TIMEOUT,
            socket_connect_timeout=_REDIS_PROBE_TIMEOUT,
            max_connections=4,
        )
        _redis_clients[url] = client
    return client


def _redis_snapshot(url: str) -> dict[str, Any]:
    """One pipelined round trip answers for every Redis-backed service on ``url``:
    reachability, the Celery queue length and the live worker count."""
    client = _probe_client(url)
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    pipe.ping()
    pipe.llen("celery")
    pipe.zcount(WORKERS_KEY, time.time(), "+inf")
    _, queued, workers = pipe.execute()
    return {"ping_ms": round((time.perf_counter() - started) * 1000, 2), "queued": int(queued), "workers": int(workers)}


def _channel_layer_url() -> str | None:
    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    if not layer["BACKEND"].startswith("channels_redis"):
        return None
    host = layer["CONFIG"]["hosts"][0]
    return host if isinstance(host, str) else str(host["address"])


def _redis_url_of(service: str) -> str | None:
    if service == "cache":
        return settings.REDIS_URL or None if settings.ENABLE_CACHE else None
    if service == "channel_layer":
        return _channel_layer_url()
    if service == "task_queue":
        return None if settings.TASKS_EMBEDDED else settings.CELERY_BROKER_URL
    return None


def _local_service(service: str) -> CheckResult:
    """Services that are not on Redis in this configuration."""
    if service == "cache":
        if not settings.ENABLE_CACHE:
            return CheckResult(DISABLED, None, {"backend": "none"})
        return CheckResult(OK, None, {"backend": "local-memory", "scope": "per process"})
    if service == "channel_layer":
        return CheckResult(OK, None, {"backend": "in-memory", "scope": "per process"})
    details = {"backend": "in-process", "threads": settings.TASKS_EMBEDDED_THREADS, "backlog": embedded_backlog()}
    return CheckResult(OK, None, details)


def _from_snapshot(service: str, snapshot: CheckResult) -> CheckResult:
    backend = "celery" if service == "task_queue" else "redis"
    if snapshot.status != OK:
        return CheckResult(snapshot.status, snapshot.latency_ms, {"backend": backend, **snapshot.details})
    details: dict[str, Any] = {"backend": backend, "ping_ms": snapshot.details["ping_ms"]}
    status = OK
    if service == "cache":
        breaker = getattr(cache, "breaker", None)
        if breaker is not None and breaker.is_open:
            details["breaker"] = "open"  # Redis answers; this process has not noticed yet
    elif service == "task_queue":
        details["workers"] = snapshot.details["workers"]
        details["queued"] = snapshot.details["queued"]
        if not details["workers"]:
            status = DEGRADED
            details["reason"] = "no task worker is alive; tasks will wait in the queue"
    return CheckResult(status, snapshot.latency_ms, details)


REDIS_SERVICES = ("cache", "channel_layer", "task_queue")


# --- local checks ----------------------------------------------------------------------
def _auth_probe() -> dict[str, Any]:
    generated = [name for name in settings.GENERATED_SECRETS if name in ("JWT_SECRET_KEY", "SECRET_KEY")]
    details: dict[str, Any] = {"jwt_key": "generated for this run" if "JWT_SECRET_KEY" in generated else "configured"}
    return details


def _encryption_probe() -> dict[str, Any]:
    key_id = encryption.self_test()
    source = "generated for this run" if "ENCRYPTION_MASTER_KEY" in settings.GENERATED_SECRETS else "configured"
    return {"algorithm": "AES-256-GCM", "key_id": key_id, "master_key": source}


def _llm_probe() -> dict[str, Any]:
    configured = sorted(name for name, cfg in settings.LLM_PROVIDERS.items() if cfg["api_key"])
    if not configured:
        return {"status": NOT_CONFIGURED, "configured": [], "note": "no provider key set; LLM actions fail fast"}
    return {"configured": configured, "note": "configuration only; manage.py check_providers makes real calls"}


# --- the store of generated files ------------------------------------------------------
def _storage_probe() -> dict[str, Any]:
    """A disk store is checked now: the directory can be written and has room. A bucket
    is reported from the last operation any process made on it (core/storage.py's
    ``record_bucket_outcome``): reaching it from here would load boto3 into every web
    worker (~50 MB each, PERF P6)."""
    if settings.MEDIA_STORAGE == "s3":
        return _bucket_probe()
    return _disk_probe()


def _disk_probe() -> dict[str, Any]:
    details: dict[str, Any] = {"backend": "filesystem"}
    directory = os.path.abspath(settings.MEDIA_ROOT)
    while not os.path.exists(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)  # made on the first write: its parent must allow it
    if not os.path.isdir(directory):
        return {**details, "status": DOWN, "error": "MEDIA_ROOT is not a directory: no file can be stored"}
    if not os.access(directory, os.W_OK):
        return {**details, "status": DOWN, "error": "MEDIA_ROOT cannot be written"}
    usage = os.statvfs(directory)
    free_mb = usage.f_bavail * usage.f_frsize // 2**20
    details["free_mb"] = free_mb
    if free_mb < settings.STORAGE_MIN_FREE_MB:
        details["status"] = DEGRADED
        details["reason"] = f"less than {settings.STORAGE_MIN_FREE_MB} MB free (STORAGE_MIN_FREE_MB)"
    return details


def _bucket_probe() -> dict[str, Any]:
    details: dict[str, Any] = {
        "backend": "s3",
        "checked_by": "the last bucket operation (manage.py check_storage makes one)",
    }
    last = bucket_outcome()
    if last is None:
        return {**details, "last_operation": None}
    seconds_ago = round(max(0.0, time.time() - float(last["at"])), 1)
    details.update(last_operation=last["operation"], seconds_ago=seconds_ago)
    if not last["ok"]:
        details.update(status=DEGRADED, error=last["error"])
    return details


# --- running them ------------------------------------------------------------------------
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="devskyy-health")
# Database probes share one thread, hence one persistent connection per process.
_db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devskyy-health-db")
_DB_PROBES = frozenset({"database", "migrations"})
_inflight: dict[str, Future[CheckResult]] = {}
_inflight_lock = threading.Lock()

PROBES: dict[str, Callable[[], dict[str, Any]]] = {
    "database": _database_probe,
    "auth": _auth_probe,
    "encryption": _encryption_probe,
    "llm_providers": _llm_probe,
    "storage": _storage_probe,
}


def _submit(name: str) -> Future[CheckResult]:
    with _inflight_lock:
        future = _inflight.get(name)
        if future is None or future.done():
            if name.startswith("redis:"):
                url = name.removeprefix("redis:")
                future = _pool.submit(_timed, lambda: _redis_snapshot(url))
            else:
                pool = _db_pool if name in _DB_PROBES else _pool
                future = pool.submit(_timed, PROBES[name] if name in PROBES else READY_PROBES[name])
            _inflight[name] = future
        return future


READY_PROBES: dict[str, Callable[[], dict[str, Any]]] = {"migrations": _migrations_probe}


# Probes that touch nothing outside the process run inline: a thread hop would cost
# more than the probe.
_INLINE = frozenset({"auth", "encryption", "llm_providers"})


def run_checks(names: list[str], deadline_seconds: float) -> dict[str, CheckResult]:
    """Run the named checks concurrently; anything not done by the deadline is ``timeout``."""
    redis_urls = {name: _redis_url_of(name) for name in names if name in REDIS_SERVICES}
    keys = {name for name in names if name not in _INLINE and name not in REDIS_SERVICES}
    keys |= {f"redis:{url}" for url in redis_urls.values() if url}
    # In-process checks first: run while the pool threads work, their short system calls
    # (the encryption self-test's os.urandom) waited for the GIL behind those threads
    # (PERF P2, bench/README.md).
    results: dict[str, CheckResult] = {name: _timed(PROBES[name]) for name in names if name in _INLINE}
    futures = {key: _submit(key) for key in keys}
    ends_at = time.monotonic() + deadline_seconds
    done: dict[str, CheckResult] = {}
    for key, future in futures.items():
        try:
            done[key] = future.result(timeout=max(0.0, ends_at - time.monotonic()))
        except FutureTimeout:
            error = {"error": f"no answer within {deadline_seconds:.1f}s"}
            done[key] = CheckResult(TIMEOUT, deadline_seconds * 1000, error)
    for name in names:
        if name in REDIS_SERVICES:
            url = redis_urls[name]
            results[name] = _from_snapshot(name, done[f"redis:{url}"]) if url else _local_service(name)
        elif name in done:
            results[name] = done[name]
    return results


def close_probe_connections(timeout: float = 5.0) -> None:
    """Close the database connection held by the probe thread (tests, shutdown)."""
    _db_pool.submit(connections.close_all).result(timeout=timeout)
