"""/, /health, /ready, /live and /metrics/cache report what is really there."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from agents_app.models import Agent, AgentCategory, AgentStatus

# Probes run on their own threads (own connections): data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


def _agent(slug: str, category: str, **extra) -> Agent:
    return Agent.objects.create(slug=slug, type=category, name=slug, category=category, **extra)


def test_health_counts_the_agents_in_the_database() -> None:
    client = Client()
    before = client.get("/health").json()
    assert before["agents"] == {"total": 0, "active": 0, "categories": []}
    _agent("commerce-001", AgentCategory.COMMERCE)
    _agent("creative-001", AgentCategory.CREATIVE)
    _agent("support-007", AgentCategory.SUPPORT, status=AgentStatus.DISABLED)
    _agent("support-008", AgentCategory.SUPPORT, enabled=False)
    body = client.get("/health").json()
    assert body["agents"] == {"total": 4, "active": 2, "categories": ["commerce", "creative", "support"]}
    assert body["services"]["agents"]["total"] == 4


def test_health_reports_every_service_with_measured_latency() -> None:
    response = Client().get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["timestamp"].endswith("Z")
    assert set(body["services"]) == {
        "api",
        "database",
        "cache",
        "channel_layer",
        "task_queue",
        "auth",
        "encryption",
        "llm_providers",
        "storage",
        "agents",
    }
    database = body["services"]["database"]
    assert database["status"] == "ok"
    assert database["vendor"] == "sqlite"
    assert database["query_ms"] > 0
    assert body["services"]["cache"]["backend"] == "local-memory"
    assert body["services"]["task_queue"]["backend"] == "in-process"
    assert body["services"]["encryption"]["algorithm"] == "AES-256-GCM"
    # No provider key in the test environment: said plainly, not faked as healthy.
    assert body["services"]["llm_providers"]["status"] == "not_configured"
    assert body["not_configured"] == ["llm_providers"]


def test_llm_providers_lists_the_configured_ones(settings) -> None:
    settings.LLM_PROVIDERS = {**settings.LLM_PROVIDERS, "groq": {"api_key": "gsk-test", "base_url": ""}}
    body = Client().get("/health").json()
    assert body["services"]["llm_providers"]["status"] == "ok"
    assert body["services"]["llm_providers"]["configured"] == ["groq"]


def test_ready_and_live() -> None:
    client = Client()
    assert client.get("/ready").json() == {"ready": True}
    assert client.get("/live").json() == {"alive": True}


def test_root_lists_api_routes_from_the_url_conf() -> None:
    body = Client().get("/").json()
    assert body["platform"] == "DevSkyy Enterprise"
    assert body["docs"] == "/api/docs/"
    assert body["health"] == "/health"
    assert "/api/schema/" in body["api_endpoints"]
    assert all(route.startswith("/api/") for route in body["api_endpoints"])


def test_metrics_cache_counts_real_reads() -> None:
    client = Client()
    before = client.get("/metrics/cache").json()["redis"]
    cache.set("probe-key", "v")
    cache.get("probe-key")
    cache.get("probe-key")
    cache.get("absent-key")
    cache.get_many(["probe-key", "absent-1", "absent-2"])
    after = client.get("/metrics/cache").json()["redis"]
    assert after["total_hits"] - before["total_hits"] == 3
    assert after["total_misses"] - before["total_misses"] == 3
    metrics = client.get("/metrics").content.decode()
    line = next(line for line in metrics.splitlines() if line.startswith("redis_cache_hits_total "))
    assert float(line.split()[1]) == after["total_hits"]


def test_metrics_use_route_templates_as_labels() -> None:
    client = Client()
    client.get("/api/v1/nothing-here-123")
    client.get("/live")
    text = client.get("/metrics").content.decode()
    assert 'http_requests_total{method="GET",route="/live",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "nothing-here-123" not in text


def test_metrics_token_protects_metrics(settings) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    client = Client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert client.get("/metrics/cache").status_code == 401
