"""Platform endpoints: /, /health, /ready, /live, /metrics, /metrics/cache.

Plain Django views: they are public probes hit every few seconds, so they skip
DRF's authentication and content negotiation entirely.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from devskyy.core.errors import envelope_response
from devskyy.core.metrics import cache_counts, render_latest
from health_app.services import api_directory, health_report, readiness

TARGET_HIT_RATE = 80.0


@require_GET
def root(request: HttpRequest) -> JsonResponse:
    body = {
        "platform": "DevSkyy Enterprise",
        "version": settings.VERSION,
        "status": "running",
        "environment": settings.ENVIRONMENT,
        "docs": "/api/docs/",
        "schema": "/api/schema/",
        "health": "/health",
        "api_endpoints": api_directory(),
    }
    return JsonResponse(body)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    body, status = health_report()
    return JsonResponse(body, status=status)


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    body, status = readiness()
    return JsonResponse(body, status=status)


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"alive": True})


def _metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    if not settings.ENABLE_METRICS:
        return envelope_response(404, "Metrics are disabled (ENABLE_METRICS=false).", code="metrics_disabled")
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = envelope_response(401, "A valid metrics bearer token is required.")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return None


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _metrics_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(render_latest(), content_type=CONTENT_TYPE_LATEST)


@require_GET
def metrics_cache(request: HttpRequest) -> HttpResponse:
    refusal = _metrics_refusal(request)
    if refusal is not None:
        return refusal
    counts = cache_counts()
    reads = counts["hits"] + counts["misses"]
    hit_rate = round(100.0 * counts["hits"] / reads, 2) if reads else 0.0
    pool_size = 0
    pool_stats = getattr(cache, "pool_stats", None)
    if pool_stats is not None:
        try:
            pool_size = pool_stats()["open"]
        except Exception:  # noqa: BLE001 - Redis unreachable: no pool to report
            pool_size = 0
    if not reads:
        recommendation = "No cache reads recorded yet."
    elif hit_rate >= TARGET_HIT_RATE:
        recommendation = "Hit rate meets the target."
    elif counts["errors"]:
        recommendation = "Cache errors recorded: check Redis availability before tuning TTLs."
    else:
        recommendation = "Hit rate below target: consider longer TTLs or warming the cache (manage.py warm_cache)."
    return JsonResponse(
        {
            "redis": {
                "hit_rate": hit_rate,
                "total_hits": int(counts["hits"]),
                "total_misses": int(counts["misses"]),
                "total_errors": int(counts["errors"]),
                "connection_pool_size": pool_size,
            },
            "backend": "redis" if settings.REDIS_URL else "local-memory",
            "recommendation": recommendation,
            "target_hit_rate": TARGET_HIT_RATE,
        }
    )
