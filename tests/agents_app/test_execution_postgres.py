"""The execution tests again on PostgreSQL: the claim there is one UPDATE ... FROM ...
RETURNING statement (agents_app/services/execution.py), not the ORM's portable pair."""

from __future__ import annotations

import pytest

from tests.agents_app.test_execution import *  # noqa: F403 - the same tests and fixtures

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
