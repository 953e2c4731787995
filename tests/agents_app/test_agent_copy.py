"""agent_get keeps a copy of the agents per version: changes still apply at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents_app.exceptions import AgentNotFoundError, AgentStoppedError
from agents_app.models import Agent
from agents_app.services.agents import agent_get, agent_start, agent_stop
from agents_app.services.tasks import task_create

pytestmark = pytest.mark.django_db(transaction=True)
# Both passes: versions in process memory (embedded), then in Redis (services).
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])


def _create(slug: str) -> None:
    task_create(agent_slug=slug, action="low_stock_report", parameters={"threshold": 5}, user=None)


@BOTH
def test_a_kept_agent_costs_no_query_and_a_stop_or_delete_applies_to_the_next_task(backend: str, task_queue) -> None:
    # task_queue: the created tasks are collected, not run in the background beside the test.
    Agent.objects.create(slug="commerce-950", type="t", name="T", category="commerce", tools=["low_stock_report"])
    _create("commerce-950")
    with CaptureQueriesContext(connection) as lookups:
        agent = agent_get("commerce-950")
    assert len(lookups.captured_queries) == 0
    agent.name = "changed by a caller"  # callers get their own copy
    assert agent_get("commerce-950").name == "T"

    agent_stop(slug="commerce-950")
    with pytest.raises(AgentStoppedError):
        _create("commerce-950")
    agent_start(slug="commerce-950")
    _create("commerce-950")

    Agent.objects.create(slug="commerce-951", type="t", name="New", category="commerce", tools=[])
    assert agent_get("commerce-951").name == "New"
    Agent.objects.get(slug="commerce-951").delete()
    with pytest.raises(AgentNotFoundError):
        agent_get("commerce-951")
