"""The task totals tests again on PostgreSQL, where a PL/pgSQL trigger keeps them
(agents_app/migrations/0008_agent_task_totals.py), not SQLite's triggers."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections

from agents_app.models import Agent, AgentTask, TaskStatus
from tests.agents_app.test_task_totals import *  # noqa: F403 - the same tests and fixtures
from tests.agents_app.test_task_totals import _agree, _from_totals

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # type: ignore[assignment]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_agent_leave_exact_totals() -> None:
    """Eight connections finishing, failing and deleting tasks of one agent at once
    (PostgreSQL: each upsert waits on the totals row, none is lost)."""
    agent = Agent.objects.create(slug="operations-970", type="t", name="D", category="operations", tools=["x"])
    tasks = [AgentTask.objects.create(agent=agent, action="x", status=TaskStatus.RUNNING) for _ in range(160)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(index: int) -> None:
        try:
            start.wait()
            for n, task in enumerate(tasks[index::8]):
                if n % 4 == 3:
                    AgentTask.objects.filter(pk=task.pk).delete()
                else:
                    status = TaskStatus.FAILED if n % 4 == 2 else TaskStatus.COMPLETED
                    AgentTask.objects.filter(pk=task.pk).update(
                        status=status, duration_ms=10 + n, cost=Decimal("0.001")
                    )
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    _agree(agent)
    assert _from_totals(agent)["completed"] == 80
