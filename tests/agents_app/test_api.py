"""Agents, tools and tasks over the REST API (embedded pass: SQLite, no queue)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents_app.models import Agent, AgentTask, TaskStatus

pytestmark = pytest.mark.django_db


def _finished(agent: Agent, status: str, duration_ms: int, cost: str = "0") -> AgentTask:
    now = timezone.now()
    return AgentTask.objects.create(
        agent=agent,
        action="sales_summary",
        status=status,
        duration_ms=duration_ms,
        cost=Decimal(cost),
        started_at=now - timedelta(milliseconds=duration_ms),
        finished_at=now,
    )


def test_agents_require_authentication(catalog) -> None:
    response = APIClient().get("/api/v1/agents")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_agent_list_has_the_dashboard_shape_and_stats_from_real_tasks(api, catalog) -> None:
    agent = Agent.objects.get(slug="analytics-001")
    _finished(agent, TaskStatus.COMPLETED, 100, "0.010000")
    _finished(agent, TaskStatus.COMPLETED, 300, "0.030000")
    _finished(agent, TaskStatus.FAILED, 50)
    body = api.get("/api/v1/agents").json()
    assert len(body) == 54
    item = next(a for a in body if a["id"] == "analytics-001")
    for key in ("id", "type", "name", "description", "status", "capabilities", "tools", "mlModels", "stats"):
        assert key in item
    assert item["stats"] == {
        "tasksCompleted": 2,
        "tasksFailed": 1,
        "tasksRunning": 0,
        "successRate": 66.7,
        "avgLatencyMs": 200.0,
        "totalCostUsd": "0.040000",
        "learningCycles": None,
    }
    idle = next(a for a in body if a["id"] == "commerce-002")
    assert idle["stats"]["successRate"] is None
    assert idle["stats"]["tasksCompleted"] == 0
    assert api.get("/api/v1/agents/analytics-001/stats").json() == item["stats"]


def test_agent_status_detail_names_unconfigured_integrations(api, catalog) -> None:
    item = api.get("/api/v1/agents/commerce-001").json()
    assert item["statusDetail"]["requirements"] == {"llm": False, "woocommerce": False}
    assert item["statusDetail"]["ready"] is False
    assert api.get("/api/v1/agents/analytics-004").json()["statusDetail"] == {
        "ready": True,
        "requirements": {},
        "missing": [],
    }


@pytest.mark.parametrize("agents", [3, 54])
def test_agent_list_query_count_is_constant(api, django_assert_num_queries, agents) -> None:
    for i in range(agents):
        agent = Agent.objects.create(slug=f"analytics-{i:03d}", type="t", name=str(i), category="analytics")
        _finished(agent, TaskStatus.COMPLETED, 10)
    # 1 for the agents with their task aggregates + 1 for the caller's roles
    # + 1 for stored provider credentials (is an LLM configured?) + 1 for the stored shop
    # connection (is WooCommerce configured? re-read at most every 5 s per process).
    with django_assert_num_queries(4):
        assert len(api.get("/api/v1/agents").json()) == agents


def test_tools_endpoints_list_schemas_and_availability(api, catalog) -> None:
    tools = {t["name"]: t for t in api.get("/api/v1/tools").json()}
    assert tools["low_stock_report"]["available"] is True
    assert tools["llm_complete"]["available"] is False
    assert tools["low_stock_report"]["input_schema"]["properties"]["threshold"]["type"] == "integer"
    mine = [t["name"] for t in api.get("/api/v1/agents/support-002/tools").json()]
    assert mine == ["order_lookup", "llm_complete"]


def test_execute_creates_a_pending_task_and_returns_202(api, catalog, user) -> None:
    response = api.post(
        "/api/v1/agents/commerce-002/execute",
        {"task": "low_stock_report", "parameters": {"threshold": 3}},
        format="json",
    )
    assert response.status_code == 202
    task = AgentTask.objects.get(pk=response.json()["id"])
    assert (task.agent.slug, task.action, task.parameters, task.status) == (
        "commerce-002",
        "low_stock_report",
        {"threshold": 3},
        TaskStatus.PENDING,
    )
    assert task.requested_by == user
    assert response["Location"] == f"/api/v1/tasks/{task.pk}"


def test_invalid_tool_input_is_a_400_with_the_schema_error_and_no_row(api, catalog) -> None:
    response = api.post(
        "/api/v1/tasks",
        {"agent_id": "commerce-002", "action": "low_stock_report", "parameters": {"threshold": "five"}},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_tool_input"
    assert error["details"]["errors"] == [{"path": "/threshold", "message": "'five' is not of type 'integer'"}]
    assert AgentTask.objects.count() == 0


def test_a_tool_the_agent_may_not_use_is_refused(api, catalog) -> None:
    response = api.post(
        "/api/v1/tasks", {"agent_id": "support-002", "action": "margin_report", "parameters": {}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tool_not_allowed"
    assert AgentTask.objects.count() == 0


def test_free_text_needs_an_llm_and_fails_fast_without_one(api, catalog) -> None:
    response = api.post("/api/v1/agents/marketing-002/execute", {"task": "Write our spring email"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_not_configured"
    assert "no LLM provider configured" in response.json()["error"]["message"]
    assert AgentTask.objects.count() == 0


def test_a_stopped_agent_refuses_tasks_until_started(catalog, staff_user) -> None:
    client = APIClient()
    client.force_authenticate(staff_user)
    assert client.post("/api/v1/agents/commerce-002/stop").json()["status"] == "disabled"
    refused = client.post("/api/v1/agents/commerce-002/execute", {"task": "low_stock_report"}, format="json")
    assert refused.status_code == 409
    assert client.post("/api/v1/agents/commerce-002/start").json()["status"] == "idle"
    assert (
        client.post("/api/v1/agents/commerce-002/execute", {"task": "low_stock_report"}, format="json").status_code
        == 202
    )


def test_only_staff_may_start_or_stop_agents(api, catalog) -> None:
    assert api.post("/api/v1/agents/commerce-002/stop").status_code == 403
    assert Agent.objects.get(slug="commerce-002").enabled is True


def test_idempotency_key_returns_the_same_task_and_refuses_another_body(api, catalog) -> None:
    body = {"agent_id": "commerce-002", "action": "low_stock_report", "parameters": {"threshold": 2}}
    first = api.post("/api/v1/tasks", body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    again = api.post("/api/v1/tasks", body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    changed = api.post(
        "/api/v1/tasks", {**body, "parameters": {"threshold": 9}}, format="json", HTTP_IDEMPOTENCY_KEY="order-42"
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert AgentTask.objects.count() == 1


def test_the_same_key_from_another_user_is_a_different_task(api, catalog, other_user) -> None:
    body = {"agent_id": "commerce-002", "action": "low_stock_report", "parameters": {}}
    mine = api.post("/api/v1/tasks", body, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()["id"]
    other = APIClient()
    other.force_authenticate(other_user)
    theirs = other.post("/api/v1/tasks", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert theirs.status_code == 202
    assert theirs.json()["id"] != mine


def test_cancelling_a_pending_task_means_it_never_starts(api, catalog) -> None:
    from agents_app.services.execution import task_execute

    task_id = api.post("/api/v1/agents/commerce-002/execute", {"task": "low_stock_report"}, format="json").json()["id"]
    response = api.post(f"/api/v1/tasks/{task_id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert task_execute(task_id=task_id, worker="test").outcome == "already_final"
    task = AgentTask.objects.get(pk=task_id)
    assert (task.status, task.attempts, task.started_at) == (TaskStatus.CANCELLED, 0, None)
    again = api.post(f"/api/v1/tasks/{task_id}/cancel")
    assert again.status_code == 409


def test_users_see_only_their_own_tasks(api, catalog, other_user, staff_user) -> None:
    agent = Agent.objects.get(slug="commerce-002")
    theirs = AgentTask.objects.create(agent=agent, action="low_stock_report", requested_by=other_user)
    assert api.get(f"/api/v1/tasks/{theirs.pk}").status_code == 404
    assert api.post(f"/api/v1/tasks/{theirs.pk}/cancel").status_code == 404
    assert api.get("/api/v1/tasks").json()["results"] == []
    staff = APIClient()
    staff.force_authenticate(staff_user)
    assert staff.get(f"/api/v1/tasks/{theirs.pk}").status_code == 200


def test_task_list_filters_and_paginates_with_a_cursor(api, catalog, user) -> None:
    agent = Agent.objects.get(slug="commerce-002")
    other = Agent.objects.get(slug="analytics-002")
    now = timezone.now()
    for i in range(5):
        AgentTask.objects.create(
            agent=agent, action="low_stock_report", requested_by=user, created_at=now - timedelta(hours=i)
        )
    AgentTask.objects.create(agent=other, action="sales_summary", requested_by=user, status=TaskStatus.FAILED)
    page = api.get("/api/v1/tasks", {"agent": "commerce-002", "limit": 2}).json()
    assert len(page["results"]) == 2
    second = api.get(page["next"]).json()
    assert len(second["results"]) == 2
    assert not {t["id"] for t in page["results"]} & {t["id"] for t in second["results"]}
    assert [t["agent_id"] for t in api.get("/api/v1/tasks", {"status": "failed"}).json()["results"]] == [
        "analytics-002"
    ]
    recent = api.get(
        "/api/v1/tasks", {"agent": "commerce-002", "created_after": (now - timedelta(hours=2, minutes=30)).isoformat()}
    )
    assert len(recent.json()["results"]) == 3
    assert api.get("/api/v1/tasks", {"status": "sleeping"}).status_code == 400


@pytest.mark.parametrize("tasks", [3, 30])
def test_task_list_query_count_is_constant(api, catalog, user, django_assert_num_queries, tasks) -> None:
    agents = list(Agent.objects.all()[:10])
    for i in range(tasks):
        AgentTask.objects.create(agent=agents[i % 10], action="sales_summary", requested_by=user)
    # 1 for the page of tasks with their agents + 1 for the caller's roles.
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/tasks", {"limit": 50}).json()["results"]) == tasks


def test_openapi_schema_stays_valid(api) -> None:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/agents", "/api/v1/tasks", "/api/v1/tasks/{task_id}/cancel", "/api/v1/tools"):
        assert path in paths
