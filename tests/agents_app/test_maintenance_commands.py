"""purge_tasks, warm_cache and seed_agents: they say what they did and fail loudly."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from agents_app import catalog
from agents_app.models import Agent, AgentTask, TaskStatus
from commerce_app.models import Product
from devskyy.core.models import AuditLog
from tests.support.servers import closed_port

pytestmark = pytest.mark.django_db


def _agent() -> Agent:
    return Agent.objects.create(slug="analytics-900", type="t", name="A", category="analytics", tools=["sales_summary"])


def _task(agent: Agent, status: str, finished_days_ago: float | None, created_days_ago: float = 0) -> AgentTask:
    now = timezone.now()
    return AgentTask.objects.create(
        agent=agent,
        action="sales_summary",
        status=status,
        created_at=now - timedelta(days=max(created_days_ago, finished_days_ago or 0)),
        finished_at=None if finished_days_ago is None else now - timedelta(days=finished_days_ago),
    )


def test_purge_tasks_deletes_only_finished_tasks_older_than_the_cutoff() -> None:
    agent = _agent()
    old_done = _task(agent, TaskStatus.COMPLETED, 40)
    old_failed = _task(agent, TaskStatus.FAILED, 31)
    old_cancelled = _task(agent, TaskStatus.CANCELLED, 35)
    recent = _task(agent, TaskStatus.COMPLETED, 2)
    old_pending = _task(agent, TaskStatus.PENDING, None, created_days_ago=60)
    old_running = _task(agent, TaskStatus.RUNNING, None, created_days_ago=60)
    out = io.StringIO()
    call_command("purge_tasks", "--older-than", "30d", stdout=out)
    assert "deleted 3 finished task(s)" in out.getvalue()
    assert "cancelled 1, completed 1, failed 1" in out.getvalue()
    left = set(AgentTask.objects.values_list("pk", flat=True))
    assert left == {recent.pk, old_pending.pk, old_running.pk}
    assert not left & {old_done.pk, old_failed.pk, old_cancelled.pk}
    audit = AuditLog.objects.get(action="tasks.purged")
    assert audit.details["deleted"] == {"completed": 1, "failed": 1, "cancelled": 1}


def test_purge_tasks_dry_run_counts_and_keeps_everything() -> None:
    agent = _agent()
    _task(agent, TaskStatus.COMPLETED, 3)
    out = io.StringIO()
    call_command("purge_tasks", "--older-than", "36h", "--dry-run", stdout=out)
    assert "would delete 1 finished task(s)" in out.getvalue()
    assert AgentTask.objects.count() == 1


@pytest.mark.parametrize("bad", ["30", "0d", "-5d", "thirty days", "30x", "1.5d", ""])
def test_purge_tasks_refuses_an_invalid_duration_and_deletes_nothing(bad: str) -> None:
    agent = _agent()
    _task(agent, TaskStatus.COMPLETED, 400)
    with pytest.raises(CommandError, match="Invalid duration"):
        call_command("purge_tasks", f"--older-than={bad}", stdout=io.StringIO())
    assert AgentTask.objects.count() == 1


def test_purge_tasks_requires_older_than() -> None:
    with pytest.raises(CommandError, match="--older-than"):
        call_command("purge_tasks", stdout=io.StringIO())


def test_seed_agents_refuses_a_catalog_with_an_unregistered_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    real = catalog.definitions()
    broken = [*real[:1], {**real[1], "tools": [*real[1]["tools"], "no_such_tool"]}]
    monkeypatch.setattr(catalog, "definitions", lambda: broken)
    with pytest.raises(CommandError, match=f"{real[1]['slug']}: no_such_tool"):
        call_command("seed_agents", stdout=io.StringIO())
    assert Agent.objects.count() == 0  # nothing half-seeded


def test_warm_cache_in_embedded_mode_says_it_cannot_reach_the_server() -> None:
    if settings.REDIS_URL:
        pytest.skip("embedded pass only")
    out = io.StringIO()
    call_command("warm_cache", stdout=out)
    assert "local memory" in out.getvalue()
    assert "nothing done" in out.getvalue()


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}})
def test_warm_cache_fails_when_the_cache_is_switched_off() -> None:
    with pytest.raises(CommandError, match="ENABLE_CACHE=false"):
        call_command("warm_cache", stdout=io.StringIO())


def _products(n: int) -> list[Product]:
    return [
        Product.objects.create(sku=f"W-{i}", name=f"P{i}", price=Decimal("10.00"), category="tops") for i in range(n)
    ]


@pytest.mark.services
def test_warm_cache_creates_the_missing_product_version_tokens_in_redis() -> None:
    from agents_app.llm import cache as llm_cache

    products = _products(3)
    cache.delete_many([llm_cache._version_key(p.pk) for p in products])
    llm_cache.product_versions([products[0].pk])  # one token already there
    out = io.StringIO()
    call_command("warm_cache", stdout=out)
    text = out.getvalue()
    assert "RedisCache" in text
    assert "cache round trip ok" in text
    assert "3 product(s), 2 created, 1 already present" in text
    keys = [llm_cache._version_key(p.pk) for p in products]
    assert len(cache.get_many(keys)) == 3
    again = io.StringIO()
    call_command("warm_cache", stdout=again)
    assert "0 created, 3 already present" in again.getvalue()


@pytest.mark.services
def test_warm_cache_fails_when_redis_does_not_answer() -> None:
    unreachable = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    with override_settings(CACHES=unreachable), pytest.raises(CommandError, match="is Redis reachable"):
        call_command("warm_cache", stdout=io.StringIO())


def test_the_spec_maintenance_commands_exist() -> None:
    from django.core.management import get_commands

    # sync_woocommerce comes with the commerce sync work.
    spec = {"seed_agents", "rotate_encryption_key", "purge_tasks", "check_providers", "create_api_key"}
    spec |= {"create_operator", "warm_cache"}
    assert spec <= set(get_commands())
