"""The rendered agents list (PERF P1): served from memory while nothing changed, and
re-rendered on the next request after a task finishes or an agent is edited
(agents_app/agent_list.py). Transactional: the list is never stored from inside a
transaction."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents_app import agent_list
from agents_app.models import Agent, AgentTask
from agents_app.services.agents import agent_start, agent_stop
from agents_app.services.execution import task_execute
from devskyy.core.roles import Role
from tests.support.auth import access_token, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api() -> APIClient:
    call_command("seed_agents", stdout=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(make_user(Role.OPERATOR))}")
    return client


def _agent(api: APIClient, slug: str) -> dict[str, Any]:
    return next(a for a in api.get("/api/v1/agents").json() if a["id"] == slug)


def _agents_read(queries: CaptureQueriesContext) -> bool:
    return any("agents_app_agent" in q["sql"] for q in queries.captured_queries)


def _check_list_follows_changes(api: APIClient) -> None:
    agent = next(a for a in Agent.objects.order_by("slug") if "low_stock_report" in a.tools)
    assert _agent(api, agent.slug)["stats"]["tasksCompleted"] == 0
    with CaptureQueriesContext(connection) as queries:
        assert len(api.get("/api/v1/agents").json()) == 54
    assert not _agents_read(queries), "an unchanged list is served from memory"

    task = AgentTask.objects.create(agent=agent, action="low_stock_report")
    assert task_execute(task_id=str(task.pk), worker="w").outcome == "completed"
    stats = _agent(api, agent.slug)["stats"]
    assert stats["tasksCompleted"] == 1
    assert stats["successRate"] == 100.0

    agent_stop(slug=agent.slug)
    assert _agent(api, agent.slug)["status"] == "disabled"
    agent_start(slug=agent.slug)
    assert _agent(api, agent.slug)["status"] == "idle"


def test_the_list_is_served_from_memory_until_a_task_finishes_or_an_agent_changes(api: APIClient) -> None:
    _check_list_follows_changes(api)


@pytest.mark.services
def test_over_redis_the_list_follows_task_and_agent_changes(api: APIClient) -> None:
    _check_list_follows_changes(api)


def test_a_list_rendered_inside_a_transaction_is_not_kept(api: APIClient) -> None:
    agent = Agent.objects.get(slug="analytics-004")
    with transaction.atomic():
        AgentTask.objects.create(agent=agent, action=agent.tools[0], status="completed", duration_ms=5)
        inside = agent_list.agents_list_json()
        transaction.set_rollback(True)
    assert b'"tasksCompleted":1' in inside
    assert _agent(api, "analytics-004")["stats"]["tasksCompleted"] == 0


def test_a_change_made_without_the_services_shows_after_the_cache_lifetime(api: APIClient, settings) -> None:
    settings.AGENTS_LIST_CACHE_SECONDS = 0  # no lifetime: every request renders
    agent = Agent.objects.get(slug="analytics-004")
    assert _agent(api, "analytics-004")["stats"]["tasksFailed"] == 0
    AgentTask.objects.create(agent=agent, action=agent.tools[0], status="failed")  # no service, no bump
    assert _agent(api, "analytics-004")["stats"]["tasksFailed"] == 1
