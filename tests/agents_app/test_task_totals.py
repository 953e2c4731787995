"""Agent task totals kept by the database (models.AgentTaskTotals, migration 0008).

Whatever writes task rows (services, the ORM directly, bulk inserts, queryset updates,
deletes, a rolled-back transaction), the statistics read from the totals equal an
aggregate over the rows as they are. SQLite here; PostgreSQL in
test_task_totals_postgres.py (the same tests).
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from agents_app.models import Agent, AgentTask, AgentTaskTotals, TaskStatus
from agents_app.selectors import agents_with_stats
from agents_app.services.execution import task_execute
from agents_app.services.maintenance import tasks_purge_finished

pytestmark = pytest.mark.django_db


def _from_rows(agent: Agent) -> dict[str, Any]:
    """The statistics as an aggregate over the agent's current task rows."""
    rows = AgentTask.objects.filter(agent=agent).aggregate(
        completed=Count("pk", filter=Q(status=TaskStatus.COMPLETED)),
        failed=Count("pk", filter=Q(status=TaskStatus.FAILED)),
        running=Count("pk", filter=Q(status=TaskStatus.RUNNING)),
        avg_ms=Avg("duration_ms", filter=Q(status=TaskStatus.COMPLETED)),
        cost=Sum("cost"),
    )
    return {
        "completed": rows["completed"],
        "failed": rows["failed"],
        "running": rows["running"],
        "avg_ms": None if rows["avg_ms"] is None else round(float(rows["avg_ms"]), 3),
        "cost": (rows["cost"] or Decimal("0")).quantize(Decimal("0.000001")),
    }


def _from_totals(agent: Agent) -> dict[str, Any]:
    annotated = agents_with_stats(slug=agent.slug).get()
    avg_ms = annotated.stat_avg_ms  # type: ignore[attr-defined]
    return {
        "completed": annotated.stat_completed,  # type: ignore[attr-defined]
        "failed": annotated.stat_failed,  # type: ignore[attr-defined]
        "running": annotated.stat_running,  # type: ignore[attr-defined]
        "avg_ms": None if avg_ms is None else round(float(avg_ms), 3),
        "cost": Decimal(annotated.stat_cost).quantize(Decimal("0.000001")),  # type: ignore[attr-defined]
    }


@pytest.fixture
def agents() -> tuple[Agent, Agent]:
    one = Agent.objects.create(slug="operations-960", type="t", name="A", category="operations", tools=["x"])
    two = Agent.objects.create(slug="operations-961", type="t", name="B", category="operations", tools=["x"])
    return one, two


def _agree(*agents: Agent) -> None:
    for agent in agents:
        assert _from_totals(agent) == _from_rows(agent), agent.slug


def test_an_agent_without_tasks_has_zero_totals(agents: tuple[Agent, Agent]) -> None:
    one, _ = agents
    assert _from_totals(one) == {"completed": 0, "failed": 0, "running": 0, "avg_ms": None, "cost": Decimal("0")}


def test_every_kind_of_write_keeps_the_totals_equal_to_the_rows(agents: tuple[Agent, Agent]) -> None:
    one, two = agents
    make = AgentTask.objects.create
    done = make(agent=one, action="x", status=TaskStatus.COMPLETED, duration_ms=120, cost=Decimal("0.010000"))
    make(agent=one, action="x", status=TaskStatus.COMPLETED, duration_ms=None, cost=Decimal("0.002500"))
    failed = make(agent=one, action="x", status=TaskStatus.FAILED, cost=Decimal("0.001000"))
    make(agent=one, action="x", status=TaskStatus.CANCELLED, cost=Decimal("0.000100"))
    make(agent=one, action="x", status=TaskStatus.RUNNING)
    pending = make(agent=one, action="x")
    _agree(one, two)

    AgentTask.objects.bulk_create(
        [AgentTask(agent=two, action="x", status=TaskStatus.COMPLETED, duration_ms=ms) for ms in (10, 20, 30)]
    )
    _agree(one, two)

    # Status, duration, cost and agent changed by saves and by queryset updates.
    pending.status, pending.duration_ms, pending.cost = TaskStatus.COMPLETED, 300, Decimal("0.5")
    pending.save()
    AgentTask.objects.filter(pk=failed.pk).update(status=TaskStatus.COMPLETED, duration_ms=60)
    AgentTask.objects.filter(pk=done.pk).update(agent=two)
    AgentTask.objects.filter(agent=two, duration_ms=10).update(duration_ms=15, cost=Decimal("1"))
    AgentTask.objects.filter(agent=one, status=TaskStatus.RUNNING).update(progress=50)  # no share changes
    _agree(one, two)

    AgentTask.objects.filter(agent=two, duration_ms=20).delete()
    _agree(one, two)


def test_a_rolled_back_write_leaves_the_totals_alone(agents: tuple[Agent, Agent]) -> None:
    one, _ = agents
    AgentTask.objects.create(agent=one, action="x", status=TaskStatus.FAILED)
    with transaction.atomic():
        AgentTask.objects.create(agent=one, action="x", status=TaskStatus.COMPLETED, duration_ms=5)
        transaction.set_rollback(True)
    _agree(one)
    assert _from_totals(one)["completed"] == 0


def test_tasks_run_by_the_worker_and_purged_later_are_counted_then_removed(agents: tuple[Agent, Agent]) -> None:
    one = Agent.objects.create(slug="commerce-960", type="t", name="C", category="commerce", tools=["product_lookup"])
    ok = AgentTask.objects.create(agent=one, action="product_lookup", parameters={"sku": "NOPE"})
    assert task_execute(task_id=str(ok.pk), worker="w1").outcome == "failed"
    _agree(one)
    assert _from_totals(one)["failed"] == 1

    AgentTask.objects.filter(pk=ok.pk).update(finished_at=timezone.now() - timedelta(days=40))
    tasks_purge_finished(older_than=timedelta(days=30))
    _agree(one)
    assert _from_totals(one)["failed"] == 0


def test_the_migrations_backfill_totals_the_rows_already_there(agents: tuple[Agent, Agent]) -> None:
    one, two = agents
    AgentTask.objects.create(agent=one, action="x", status=TaskStatus.COMPLETED, duration_ms=40, cost=Decimal("0.3"))
    AgentTask.objects.create(agent=two, action="x", status=TaskStatus.FAILED)
    AgentTaskTotals.objects.all().delete()  # as before the migration
    migration = importlib.import_module("agents_app.migrations.0008_agent_task_totals")
    with connection.cursor() as cursor:
        cursor.execute(migration._BACKFILL)
    _agree(one, two)
