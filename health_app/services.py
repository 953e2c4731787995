"""Assembling the probe answers from the checks."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from devskyy.core.url_routes import url_routes
from health_app.checks import DEGRADED, DOWN, NOT_CONFIGURED, OK, TIMEOUT, run_checks

HEALTH_DEADLINE_SECONDS = 0.9
READY_DEADLINE_SECONDS = 2.0
# A failure of these makes the platform unhealthy (503); of the others, degraded.
CRITICAL = frozenset({"database", "encryption"})
_STARTED_AT = time.monotonic()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def health_report() -> tuple[dict[str, Any], int]:
    started = time.perf_counter()
    results = run_checks(
        ["database", "cache", "channel_layer", "task_queue", "auth", "encryption", "llm_providers", "storage"],
        HEALTH_DEADLINE_SECONDS,
    )
    services: dict[str, Any] = {name: result.as_dict() for name, result in results.items()}
    database = results["database"]
    agents = services["database"].pop("agents", None)
    services["agents"] = (
        {"status": OK, "total": agents["total"], "active": agents["active"]}
        if agents is not None
        else {"status": database.status, "error": "agent registry unreadable: database unavailable"}
    )
    failing = {name for name, result in results.items() if result.status in (DOWN, TIMEOUT, DEGRADED)}
    if failing & CRITICAL:
        status, http_status = "unhealthy", 503
    elif failing:
        status, http_status = "degraded", 200
    else:
        status, http_status = "healthy", 200
    services["api"] = {
        "status": OK,
        "pid": os.getpid(),
        "uptime_seconds": round(time.monotonic() - _STARTED_AT, 1),
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    body: dict[str, Any] = {
        "status": status,
        "timestamp": utc_now_iso(),
        "version": settings.VERSION,
        "environment": settings.ENVIRONMENT,
        "services": services,
        "agents": agents or {"total": None, "active": None, "categories": []},
    }
    if failing:
        body["failing"] = sorted(failing)
    # NOT_CONFIGURED is an honest state, not a failure: nothing to fix at runtime.
    body["not_configured"] = sorted(n for n, r in results.items() if r.status == NOT_CONFIGURED)
    return body, http_status


def readiness() -> tuple[dict[str, Any], int]:
    result = run_checks(["migrations"], READY_DEADLINE_SECONDS)["migrations"]
    if result.status == OK:
        return {"ready": True}, 200
    if result.status == TIMEOUT:
        reason = "database did not answer in time"
    elif "pending" in result.details:
        reason = f"{result.details['pending']} migration(s) not applied"
    else:
        reason = f"database unavailable ({result.details.get('error', 'unknown error')})"
    return {"ready": False, "reason": reason}, 503


def api_directory() -> list[str]:
    """Every route under /api/ from the URL conf, as templates, sorted."""
    routes = {
        route.replace("^", "").replace("$", "")
        for route, _ in url_routes()
        if route.startswith("/api/")
        and "(?P<format>" not in route
        and not route.endswith("\\.(?P<format>[a-z0-9]+)/?$")
    }
    return sorted(routes)
