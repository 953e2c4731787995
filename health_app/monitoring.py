"""``GET /api/v1/monitoring/metrics``: figures over a time range, from recorded data.

* HTTP requests from ``devskyy.core.request_stats`` (per-minute/per-hour buckets in
  Redis written by a middleware; latency percentiles are histogram estimates);
* task outcomes from ``AgentTask`` (tasks that finished in the window);
* LLM spend per provider from the spend ledger (calls made in the window).

Every group uses the same window: whole minute (``1h``) or hour buckets (``24h``,
``7d``, ``30d``), the current one partly, so the window is reported with the figures.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from agents_app.llm.selectors import spend_by_provider
from agents_app.selectors import task_outcomes
from devskyy.core import request_stats
from devskyy.core.request_stats import LATENCY_BUCKETS_MS, ClassFigures, Window, combined, percentile

METRIC_GROUPS = ("health", "performance", "tasks", "llm")
TIME_RANGES = tuple(request_stats.WINDOWS)
PERCENTILE_METHOD = (
    "estimated from latency histogram buckets (upper bounds in ms: "
    + ", ".join(f"{b:g}" for b in LATENCY_BUCKETS_MS)
    + ", then open): linear interpolation inside the bucket holding the rank; a rank in the open bucket "
    "reports its lower bound"
)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 3) if whole else None


def _latency(figures: ClassFigures) -> dict[str, Any]:
    hist = figures.histogram
    return {
        "p50": percentile(hist, 0.50),
        "p95": percentile(hist, 0.95),
        "p99": percentile(hist, 0.99),
        "mean": round(figures.latency_sum_us / figures.requests / 1000, 3) if figures.requests else None,
    }


def _requests(figures: ClassFigures, window: Window) -> dict[str, Any]:
    return {
        "requests": figures.requests,
        "by_status_class": figures.by_status,
        "rate_per_second": round(figures.requests / window.seconds, 4),
        "rate_per_minute": round(figures.requests * 60 / window.seconds, 3),
        "error_rate_pct": _pct(figures.by_status["5xx"], figures.requests),
        "client_error_rate_pct": _pct(figures.by_status["4xx"], figures.requests),
        "latency_ms": _latency(figures),
    }


def monitoring_metrics(*, groups: list[str], time_range: str, now: float | None = None) -> dict[str, Any]:
    window, by_class = request_stats.read_window(time_range, now)
    since = dt.datetime.fromtimestamp(window.start, tz=dt.UTC)
    everything = combined(by_class.values())
    body: dict[str, Any] = {
        "time_range": time_range,
        "window": {
            "start": since.isoformat().replace("+00:00", "Z"),
            "end": dt.datetime.fromtimestamp(window.end, tz=dt.UTC).isoformat().replace("+00:00", "Z"),
            "seconds": round(window.seconds, 3),
            "resolution": window.resolution,
        },
        "metrics": {},
    }
    metrics: dict[str, Any] = body["metrics"]
    tasks = task_outcomes(since=since)
    spend = spend_by_provider(since=since)
    if "health" in groups:
        calls = sum(p["calls"] for p in spend)
        metrics["health"] = {
            "error_rate_pct": _pct(everything.by_status["5xx"], everything.requests),
            "api_error_rate_pct": _pct(by_class["api"].by_status["5xx"], by_class["api"].requests),
            "task_success_rate_pct": tasks["success_rate_pct"],
            "llm_call_error_rate_pct": _pct(sum(p["failed_calls"] for p in spend), calls),
        }
    if "performance" in groups:
        metrics["performance"] = {
            **_requests(everything, window),
            "by_route_class": {name: _requests(fig, window) for name, fig in by_class.items()},
            "percentile_method": PERCENTILE_METHOD,
        }
    if "tasks" in groups:
        metrics["tasks"] = tasks
    if "llm" in groups:
        metrics["llm"] = {
            "spend_usd": str(sum((Decimal(p["amount_usd"]) for p in spend), Decimal("0"))),
            "calls": sum(p["calls"] for p in spend),
            "providers": spend,
        }
    return body
