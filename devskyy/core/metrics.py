"""Prometheus metrics: definitions, the request middleware and the scrape registry.

With several gunicorn workers, prometheus_client runs in multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, prepared by gunicorn.conf.py): every worker writes its
samples to files in that directory and a scrape sums them, so any worker answers
for all. Labels are bounded: route templates, never raw paths or client addresses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request entering Django to the response leaving it.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
API_REQUEST_DURATION = Histogram(
    "api_request_duration_seconds",
    "Duration of /api/ requests by route template and status class.",
    ["method", "route", "status_class"],
    buckets=_LATENCY_BUCKETS,
)
SECURITY_EVENTS = Counter(
    "security_events",
    "Security-relevant events (failed logins, throttling, bad signatures, denied sockets, SSRF attempts).",
    ["event_type"],
)
CACHE_HITS = Counter("redis_cache_hits", "Cache reads that found a value.")
CACHE_MISSES = Counter(
    "redis_cache_misses", "Cache reads that found nothing (including reads skipped while Redis is down)."
)
CACHE_ERRORS = Counter("redis_cache_errors", "Cache operations that failed or were skipped because Redis is down.")
TASK_QUEUE_SEND_FAILURES = Counter(
    "task_queue_send_failures",
    "Work that could not be handed to the task queue after its commit (broker unreachable); its sweep queues it.",
    ["task"],
)
AGENT_TASKS = Counter("agent_tasks", "Agent tasks that reached a final state.", ["category", "status"])
AGENT_TASK_DURATION = Histogram(
    "agent_task_duration_seconds",
    "Agent task run time, start to finish.",
    ["category"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
LLM_CALLS = Counter("llm_calls", "LLM provider calls by outcome.", ["provider", "outcome"])
LLM_TOKENS = Counter("llm_tokens", "LLM tokens reported by providers.", ["provider", "kind"])
LLM_COST = Counter("llm_cost_usd", "LLM spend in US dollars.", ["provider"])
LLM_LATENCY = Histogram(
    "llm_call_duration_seconds",
    "LLM call latency per provider.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
WEBSOCKET_CONNECTIONS = Gauge(
    "websocket_connections",
    "Open WebSocket connections by channel.",
    ["channel"],
    multiprocess_mode="livesum",
)
WEBSOCKET_MESSAGES = Counter("websocket_messages_sent", "Events sent to WebSocket clients.", ["channel"])
WOOCOMMERCE_SYNC = Counter(
    "woocommerce_sync_objects", "Objects synced with WooCommerce.", ["entity", "direction", "outcome"]
)
WOOCOMMERCE_API_CALLS = Counter("woocommerce_api_calls", "Calls to the WooCommerce REST API.", ["method", "outcome"])


class SecurityEvent(StrEnum):
    """Every ``security_events_total`` label value: a fixed set, never free text."""

    LOGIN_FAILED = "login_failed"
    THROTTLED = "throttled"
    REFRESH_REUSE = "refresh_reuse"
    WS_DENIED = "ws_denied"
    WS_SUBSCRIBE_DENIED = "ws_subscribe_denied"
    BAD_WEBHOOK_SIGNATURE = "bad_webhook_signature"
    SSRF_BLOCKED = "ssrf_blocked"
    RATE_LIMITER_UNAVAILABLE = "rate_limiter_unavailable"


def record_security_event(event_type: SecurityEvent | str) -> None:
    """Count one event. Unknown names raise ValueError (label values stay bounded)."""
    SECURITY_EVENTS.labels(event_type=SecurityEvent(event_type).value).inc()


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _CacheHitRateCollector(Collector):
    """Derives ``redis_cache_hit_rate`` from the (possibly multi-process) counters."""

    def __init__(self, source: Collector) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        hits = misses = 0.0
        for metric in self._source.collect():
            for sample in metric.samples:
                if sample.name == "redis_cache_hits_total":
                    hits += sample.value
                elif sample.name == "redis_cache_misses_total":
                    misses += sample.value
        total = hits + misses
        yield GaugeMetricFamily(
            "redis_cache_hit_rate",
            "Share of cache reads that hit, in percent, across all workers.",
            value=(100.0 * hits / total) if total else 0.0,
        )


def scrape_registry() -> CollectorRegistry:
    """The registry a scrape reads: every worker's samples in multiprocess mode."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        collector = MultiProcessCollector(registry)
        registry.register(_CacheHitRateCollector(collector))
        return registry
    registry = CollectorRegistry()
    registry.register(_ForwardCollector(REGISTRY))
    registry.register(_CacheHitRateCollector(REGISTRY))
    return registry


class _ForwardCollector(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def cache_counts() -> dict[str, float]:
    """Hits, misses and errors summed over every worker."""
    source = _metric_source()
    names = {
        "redis_cache_hits_total": "hits",
        "redis_cache_misses_total": "misses",
        "redis_cache_errors_total": "errors",
    }
    counts = {"hits": 0.0, "misses": 0.0, "errors": 0.0}
    for metric in source.collect():
        for sample in metric.samples:
            key = names.get(sample.name)
            if key:
                counts[key] += sample.value
    return counts


def render_latest() -> bytes:
    return generate_latest(scrape_registry())


# (method, route template, status, /api/ path) -> the labelled children it counts into.
# Bounded by what labels them: methods, route templates and status codes.
_RequestSeries = tuple[Counter, Histogram, Histogram | None]
_request_series: dict[tuple[str, str, int, bool], _RequestSeries] = {}


def _series(method: str, route: str, status: int, api: bool) -> _RequestSeries:
    """The labelled children for one kind of request, looked up once (``labels()``
    validates and locks on every call: 1.4% of an API request's CPU, PERF P1)."""
    key = (method, route, status, api)
    series = _request_series.get(key)
    if series is None:
        series = (
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status)),
            HTTP_REQUEST_DURATION.labels(method=method, route=route),
            API_REQUEST_DURATION.labels(method=method, route=route, status_class=f"{status // 100}xx") if api else None,
        )
        _request_series[key] = series
    return series


class PrometheusMiddleware:
    """Counts every request by method, route template and status; times it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.ENABLE_METRICS:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = "/" + match.route if match is not None else UNMATCHED_ROUTE
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        count, duration, api_duration = _series(
            str(method), route, response.status_code, request.path.startswith("/api/")
        )
        count.inc()
        duration.observe(elapsed)
        if api_duration is not None:
            api_duration.observe(elapsed)
        return response


WOOCOMMERCE_API_DURATION = Histogram(
    "woocommerce_api_call_duration_seconds",
    "Time of each attempt at a WooCommerce REST API call, by HTTP method.",
    ["method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


def _metric_source() -> Collector:
    return MultiProcessCollector(CollectorRegistry()) if multiprocess_enabled() else REGISTRY


def http_totals() -> tuple[float, float, dict[float, float]]:
    """Cumulative HTTP figures summed over every worker since the metrics began:
    (requests, 5xx responses, {bucket upper bound in seconds: requests at or below it}).

    Callers take differences between two readings to get rates over a window.
    """
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for metric in _metric_source().collect():
        for sample in metric.samples:
            if sample.name == "http_requests_total":
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == "http_request_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return requests, errors, buckets


def histogram_quantile(quantile: float, buckets: dict[float, float]) -> float | None:
    """Estimate a quantile (seconds) from cumulative bucket counts, the way Prometheus's
    ``histogram_quantile`` does: linear interpolation inside the bucket holding the rank;
    a rank in the +Inf bucket answers with the highest finite bound. None when empty."""
    bounds = sorted(buckets)
    total = buckets.get(float("inf"), buckets[bounds[-1]] if bounds else 0.0)
    if total <= 0:
        return None
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                finite = [b for b in bounds if b != float("inf")]
                return finite[-1] if finite else None
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return None


WEBHOOK_DELIVERIES = Counter(
    "webhook_delivery_attempts", "Outbound webhook delivery attempts by outcome (succeeded, retry, dead).", ["outcome"]
)
WORDPRESS_API_CALLS = Counter("wordpress_api_calls", "Calls to the WordPress REST API.", ["method", "outcome"])
