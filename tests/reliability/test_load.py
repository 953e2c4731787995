"""Issue 9, R6: 50 concurrent clients for 60 s across mixed reads and writes, 2 web workers.

Production serving (``gunicorn -c gunicorn.conf.py``: 2 uvicorn workers, the WSGI
bridge, real PostgreSQL and Redis) over the demo shop, plus one Celery worker so the
tasks the clients create really run (claims and finishes invalidate the agents list
while it is read, as in production). 50 client threads, each with its own keep-alive
connection and an admin's JWT, send back to back for LOAD_SECONDS a weighted mix:

reads  — agents list, products list and detail, orders, tasks list, /health;
writes — queue a tool task (``stock_query``: cheap, no LLM), update a product's stock.

Asserted:

* no error: every response is the expected 2xx; no 4xx (no 429: the rate limits are
  raised for this test), no 5xx, no connection error or timeout, no worker restart;
* latency: p99 of the agents list within AGENTS_P99_BOUND_MS (see below);
* memory flat: each web worker's RSS (``/proc/<pid>/status`` VmRSS, sampled every
  second) grows by at most RSS_GROWTH_BOUND_KIB from the end of the warm-up
  (WARMUP_SECONDS) to the end. PERF P6's 150 MB per worker is recorded, not asserted:
  a worker of this platform starts above it (bench/README.md: ~200 MB).

PERF P1 asks p99 <= 50 ms for the agents list under ``wrk -c50`` on an otherwise idle
machine. Here the 50 clients are Python threads on the same 2 cores as the servers, the
task worker, PostgreSQL and Redis (and, on a developer machine, the other suites that
run beside it), and a thread's measured latency includes its wait for the GIL of the
client process. Measured on this 2-core machine at load average 6-12 (other suites
running): agents list p50 ~640 ms, p99 ~1.6 s, 65 req/s; alone on a quiet machine
(bench/README.md, fifth session): 306 req/s in all, agents list p50 156 ms, p99 288 ms
at the client, 53 ms inside Django: with 50 clients in a closed loop the latency is
50 / throughput, so PERF's 50 ms would need ~1,000 req/s of this mix. The bound asserted is
therefore AGENTS_P99_BOUND_MS, the level where requests stop being served, not slowly
served; the figures measured (requests, rps, client CPU, p50/p99 per endpoint as the
client saw it and inside Django from X-Response-Time, RSS) are printed in the test
summary and written to var/reliability/r6_load.json. bench/ measures P1 itself with wrk.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from agents_app.models import AgentTask, TaskStatus
from commerce_app.models import Product
from devskyy.core.accounts import user_set_roles
from devskyy.core.roles import Role
from tests.support.auth import access_token
from tests.support.figures import record
from tests.support.load import LoadRun, child_pids, empty_broker, named_worker, rss_kib, wait_for_workers
from tests.support.servers import gunicorn

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 50
LOAD_SECONDS = 60.0
WARMUP_SECONDS = 15.0
AGENTS_P99_BOUND_MS = 3000.0
RSS_GROWTH_BOUND_KIB = 16 * 1024
EXPECTED = {"create_task": 202}  # every other request answers 200


def _mix(product_ids: list[int], skus: list[str]) -> list[tuple[str, int, Any]]:
    def agents(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get("/api/v1/agents")

    def products(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get("/api/v1/commerce/products", params={"limit": 20, "offset": rng.randrange(0, 40)})

    def product(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get(f"/api/v1/commerce/products/{rng.choice(product_ids)}")

    def orders(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get("/api/v1/commerce/orders", params={"limit": 20})

    def tasks(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get("/api/v1/tasks", params={"limit": 20})

    def health(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get("/health")

    def create_task(http: httpx.Client, rng: random.Random) -> httpx.Response:
        body = {"agent_id": "commerce-001", "action": "stock_query", "parameters": {"skus": rng.sample(skus, 3)}}
        return http.post("/api/v1/tasks", json=body)

    def update_product(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.patch(f"/api/v1/commerce/products/{rng.choice(product_ids)}", json={"stock": rng.randrange(200)})

    return [
        ("agents_list", 30, agents),
        ("products_list", 12, products),
        ("product_detail", 12, product),
        ("orders_list", 8, orders),
        ("tasks_list", 8, tasks),
        ("health", 5, health),
        ("create_task", 10, create_task),
        ("update_product", 10, update_product),
    ]


def test_fifty_clients_for_a_minute_get_no_error_within_bounds_and_flat_memory(server_env: dict[str, str]) -> None:
    call_command("seed_agents", stdout=io.StringIO())
    call_command("seed_demo_shop", stdout=io.StringIO())
    products = list(Product.objects.filter(status="active").values_list("pk", "sku"))
    product_ids, skus = [pk for pk, _ in products], [sku for _, sku in products]
    admin = get_user_model().objects.create_user(username="load-admin", password=None)
    user_set_roles(user=admin, roles=[Role.ADMIN])
    env = {
        **server_env,
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "RATE_LIMIT_PER_HOUR": "10000000",
    }
    empty_broker(settings.CELERY_BROKER_URL)
    with gunicorn(env, workers=2) as server, named_worker(env, "load-tasks", concurrency=1) as task_worker:
        wait_for_workers(settings.REDIS_URL, [task_worker.hostname])
        workers = child_pids(server.process.pid)
        assert len(workers) == 2, workers
        samples: list[tuple[float, dict[int, int]]] = []

        def sample(elapsed: float) -> None:
            if not samples or elapsed - samples[-1][0] >= 1.0:
                samples.append((elapsed, {pid: rss_kib(pid) for pid in workers}))

        run = LoadRun(
            base_url=server.url,
            headers={"Authorization": f"Bearer {access_token(admin)}"},
            mix=_mix(product_ids, skus),
            clients=CLIENTS,
            seconds=LOAD_SECONDS,
        )
        run.run(during=sample)
        sample(run.elapsed + 1.0)  # the end
        assert child_pids(server.process.pid) == workers, "a web worker was restarted during the run"
        task_statuses = Counter(AgentTask.objects.values_list("status", flat=True))

    summary = run.summary()
    warm = next(rss for at, rss in samples if at >= WARMUP_SECONDS)
    end = samples[-1][1]
    middle = next(rss for at, rss in samples if at >= (WARMUP_SECONDS + LOAD_SECONDS) / 2)
    summary["rss_kib"] = {
        str(pid): {"start": samples[0][1][pid], "after_warmup": warm[pid], "middle": middle[pid], "end": end[pid]}
        for pid in workers
    }
    summary["rss_growth_after_warmup_kib"] = {str(pid): end[pid] - warm[pid] for pid in workers}
    summary["tasks_created"] = dict(task_statuses)
    record("r6_load", summary)

    assert not run.bad, run.bad[:10]
    for label, stats in run.stats.items():
        assert set(stats.statuses) == {EXPECTED.get(label, 200)}, (label, dict(stats.statuses))
        assert not stats.errors, (label, dict(stats.errors))
    assert set(run.stats) == {label for label, _, _ in _mix([1], ["a"])}, "an endpoint of the mix was never called"
    assert summary["requests"] > 1000, summary  # the clients really loaded the servers
    agents_p99 = run.stats["agents_list"].percentile(0.99)
    assert agents_p99 is not None
    assert agents_p99 <= AGENTS_P99_BOUND_MS, summary["endpoints"]["agents_list"]
    for pid in workers:
        assert end[pid] - warm[pid] <= RSS_GROWTH_BOUND_KIB, summary["rss_kib"]
    assert task_statuses[TaskStatus.COMPLETED] > 0, task_statuses
    assert TaskStatus.FAILED not in task_statuses, task_statuses
