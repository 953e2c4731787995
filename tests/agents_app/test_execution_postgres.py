"""The execution tests again on PostgreSQL: the claim there is one UPDATE ... FROM ...
RETURNING statement (agents_app/services/execution.py), not the ORM's portable pair."""

from __future__ import annotations

from typing import Any

import pytest

from agents_app.tools.base import register
from tests.agents_app.test_execution import *  # noqa: F403 - the same tests and fixtures
from tests.support.pg_faults import backend_killer

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # type: ignore[assignment]


@pytest.mark.django_db(transaction=True)
def test_a_claimed_tasks_agent_comes_from_the_kept_copy_and_follows_edits() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents_app.models import Agent, AgentTask
    from agents_app.services.execution import task_claim

    agent = Agent.objects.create(
        slug="operations-980", type="t", name="E", category="operations", tools=["x"], system_prompt="first"
    )
    first = AgentTask.objects.create(agent=agent, action="x")
    claimed, _ = task_claim(task_id=str(first.pk), worker="w1")
    assert claimed is not None
    assert claimed.agent.system_prompt == "first"

    second = AgentTask.objects.create(agent=agent, action="x")
    with CaptureQueriesContext(connection) as queries:
        claimed, _ = task_claim(task_id=str(second.pk), worker="w1")
    assert claimed is not None
    assert claimed.agent.slug == "operations-980"
    assert len(queries) == 1, [q["sql"] for q in queries]  # the claim; the agent is kept

    agent.system_prompt = "second"
    agent.save()  # bumps the agents version after commit
    third = AgentTask.objects.create(agent=agent, action="x")
    claimed, _ = task_claim(task_id=str(third.pk), worker="w1")
    assert claimed is not None
    assert claimed.agent.system_prompt == "second"


_backend_killed_runs: list[str] = []


@register("test_backend_killed", description="test: loses its connection", category="operations", schema={})
def _terminate_own_backend(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A tool during whose run the task's database connection dies (a restart, a
    terminated backend): what the worker finds when it records the outcome."""
    _backend_killed_runs.append(str(ctx.task_id))
    backend_killer()()
    ctx.checkpoint(50)  # meets the dead connection
    backend_killer()()  # and so does the finish (on the checkpoint's new connection)
    return {"ran": len(_backend_killed_runs)}


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_the_tool_ran_does_not_run_the_tool_again() -> None:
    """The checkpoint and the finish are written on a new connection (core/durability.py,
    through_outage): the task completes on its first attempt and its tool ran once,
    instead of failing at the checkpoint, or staying ``running`` until its lease lapses
    and running again."""
    from agents_app.models import Agent, AgentTask, TaskStatus
    from agents_app.services.execution import task_execute

    agent = Agent.objects.create(
        slug="operations-981", type="t", name="K", category="operations", tools=["test_backend_killed"]
    )
    task = AgentTask.objects.create(agent=agent, action="test_backend_killed")
    _backend_killed_runs.clear()

    assert task_execute(task_id=str(task.pk), worker="w1").outcome == "completed"

    task.refresh_from_db()
    assert (task.status, task.attempts, task.result) == (TaskStatus.COMPLETED, 1, {"ran": 1})
    assert task.lease_expires_at is None
    assert task.progress == 100
    assert _backend_killed_runs == [str(task.pk)]
