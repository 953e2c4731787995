"""GET /api/v1/monitoring/metrics: figures computed from what was recorded.

Requests are recorded by the middleware into per-minute/per-hour buckets (process
memory in the embedded pass, Redis in the services pass); tasks and LLM spend come
from AgentTask and the spend ledger.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from agents_app.llm.services import ledger_record
from agents_app.models import Agent, AgentTask, TaskStatus
from devskyy.core import request_stats
from devskyy.core.request_stats import percentile
from devskyy.core.roles import Role
from tests.support.auth import make_user

URL = "/api/v1/monitoring/metrics"


@pytest.fixture(autouse=True)
def _fresh_stats():
    request_stats.store().clear()
    yield
    request_stats.store().clear()


@pytest.fixture
def reader(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user(Role.READ_ONLY))
    return client


def _record_and_check(reader: APIClient) -> None:
    probe = Client()
    for _ in range(3):
        assert probe.get("/live").status_code == 200
    assert reader.get("/api/v1/agents").status_code == 200
    assert reader.get("/api/v1/agents").status_code == 200
    assert reader.get("/api/v1/tasks/00000000-0000-0000-0000-000000000001").status_code == 404
    # Known latencies (a 5xx cannot be provoked on purpose): six fast, three medium, one slow failure.
    for ms, code in [(3, 200)] * 6 + [(40, 200)] * 3 + [(700, 503)]:
        request_stats.record(path="/static/x.css", status=code, duration_ms=ms)

    now = timezone.now()
    agent = Agent.objects.create(slug="analytics-900", type="t", name="A", category="analytics")
    for status in (TaskStatus.COMPLETED, TaskStatus.COMPLETED, TaskStatus.COMPLETED, TaskStatus.FAILED):
        AgentTask.objects.create(
            agent=agent, action="sales_summary", status=status, duration_ms=200, started_at=now, finished_at=now
        )
    AgentTask.objects.create(  # finished two hours ago: outside 1h, inside 24h
        agent=agent,
        action="sales_summary",
        status=TaskStatus.FAILED,
        created_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2),
    )
    ledger_record(provider="openai", amount=Decimal("0.0012"), prompt_tokens=1000, completion_tokens=200)
    ledger_record(provider="openai", amount=Decimal("0"), outcome="error", error="HTTP 500")
    ledger_record(provider="anthropic", amount=Decimal("0.003"), prompt_tokens=500, completion_tokens=100)

    response = reader.get(URL, {"metrics": ["health", "performance", "tasks", "llm"], "time_range": "1h"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["time_range"] == "1h"
    assert body["window"]["resolution"] == "minute"
    seconds = body["window"]["seconds"]
    assert 3540 <= seconds <= 3600

    perf = body["metrics"]["performance"]
    by_class = perf["by_route_class"]
    assert by_class["probe"]["requests"] == 3
    assert by_class["probe"]["by_status_class"]["2xx"] == 3
    assert by_class["api"]["requests"] == 3
    assert by_class["api"]["by_status_class"]["2xx"] == 2
    assert by_class["api"]["by_status_class"]["4xx"] == 1
    other = by_class["other"]
    assert other["requests"] == 10
    assert other["error_rate_pct"] == 10.0
    # Bucket estimates: 3 ms lies in (2.5, 5], 40 ms in (25, 50], 700 ms in (500, 1000].
    assert other["latency_ms"] == {"p50": round(2.5 + 2.5 * 5 / 6, 3), "p95": 1000.0, "p99": 1000.0, "mean": 83.8}
    assert perf["requests"] == 16
    assert perf["rate_per_second"] == round(16 / seconds, 4)
    assert perf["error_rate_pct"] == 6.25
    assert "estimated from latency histogram buckets" in perf["percentile_method"]

    health = body["metrics"]["health"]
    assert health["error_rate_pct"] == 6.25
    assert health["api_error_rate_pct"] == 0.0
    assert health["task_success_rate_pct"] == 75.0
    assert health["llm_call_error_rate_pct"] == round(100 / 3, 3)

    tasks = body["metrics"]["tasks"]
    assert (tasks["completed"], tasks["failed"], tasks["created"]) == (3, 1, 4)
    assert tasks["mean_duration_ms"] == 200.0

    llm = body["metrics"]["llm"]
    assert Decimal(llm["spend_usd"]) == Decimal("0.0042")
    assert llm["calls"] == 3
    providers = {p["provider"]: p for p in llm["providers"]}
    assert Decimal(providers["openai"]["amount_usd"]) == Decimal("0.0012")
    assert (providers["openai"]["calls"], providers["openai"]["failed_calls"]) == (2, 1)
    assert (providers["anthropic"]["prompt_tokens"], providers["anthropic"]["completion_tokens"]) == (500, 100)

    # The hour hashes hold the same requests as the minute ones.
    hourly = reader.get(URL, {"metrics": "performance", "time_range": "24h"}).json()["metrics"]["performance"]
    for name in ("requests", "by_status_class", "latency_ms", "error_rate_pct"):
        assert hourly["by_route_class"]["other"][name] == other[name], name
    assert hourly["requests"] >= 16  # and whatever the reader's own requests added

    # The wider window sees the old failure too; only the asked groups are returned.
    day = reader.get(URL, {"metrics": "tasks", "time_range": "24h"}).json()
    assert set(day["metrics"]) == {"tasks"}
    assert day["window"]["resolution"] == "hour"
    assert day["metrics"]["tasks"]["failed"] == 2
    assert day["metrics"]["tasks"]["success_rate_pct"] == 60.0


@pytest.mark.django_db
def test_monitoring_figures_equal_what_was_recorded(reader) -> None:
    _record_and_check(reader)


@pytest.mark.services
@pytest.mark.django_db
def test_monitoring_figures_are_shared_through_redis(reader) -> None:
    assert isinstance(request_stats.store(), request_stats.RedisStore)
    _record_and_check(reader)


@pytest.mark.django_db
def test_bad_queries_are_refused_and_anonymous_callers_too(reader) -> None:
    assert reader.get(URL, {"time_range": "2h"}).status_code == 400
    assert reader.get(URL, {"metrics": "vibes"}).status_code == 400
    assert APIClient().get(URL).status_code == 401
    for time_range in ("7d", "30d"):
        body = reader.get(URL, {"time_range": time_range, "metrics": "performance"}).json()
        assert body["window"]["resolution"] == "hour"


@pytest.mark.django_db
def test_recording_a_request_writes_nothing_to_the_database(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert Client().get("/live").status_code == 200
    _, figures = request_stats.read_window("1h")
    assert figures["probe"].requests == 1


def test_percentiles_are_bucket_estimates() -> None:
    buckets = [0] * (len(request_stats.LATENCY_BUCKETS_MS) + 1)
    assert percentile(buckets, 0.5) is None
    buckets[-1] = 4  # everything above the largest bound: reported as that bound
    assert percentile(buckets, 0.99) == request_stats.LATENCY_BUCKETS_MS[-1]
    buckets = [0] * len(buckets)
    buckets[0] = 2  # (0, 1 ms]
    assert percentile(buckets, 0.5) == 0.5


def _probe_2xx_in_redis() -> int:
    """Successful probe requests in Redis over the current and the previous minute (a
    minute may turn during the test), read directly, without writing pending figures."""
    _, keys = request_stats.window_for("1h")
    redis_store = request_stats.store()
    assert isinstance(redis_store, request_stats.RedisStore)
    return sum(row.get("n:probe:2xx", 0) for row in redis_store.read(keys[-2:]))


@pytest.mark.services
@pytest.mark.django_db
def test_request_figures_are_summed_in_process_and_written_in_one_batch(settings) -> None:
    settings.REQUEST_STATS_FLUSH_SECONDS = 60  # no timed write during this test
    request_stats.read_window("1h")  # writes anything pending: the interval starts now
    before = _probe_2xx_in_redis()
    probe = Client()
    for _ in range(5):
        assert probe.get("/live").status_code == 200
    assert _probe_2xx_in_redis() == before  # nothing written yet
    _, figures = request_stats.read_window("1h")  # a reader writes its own process's figures first
    assert figures["probe"].by_status["2xx"] >= 5
    assert _probe_2xx_in_redis() == before + 5


@pytest.mark.services
@pytest.mark.django_db
def test_request_figures_reach_redis_within_the_interval_without_a_reader(settings) -> None:
    settings.REQUEST_STATS_FLUSH_SECONDS = 0.2
    before = _probe_2xx_in_redis()
    assert Client().get("/live").status_code == 200
    deadline = time.monotonic() + 5
    while _probe_2xx_in_redis() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _probe_2xx_in_redis() == before + 1
