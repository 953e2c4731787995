"""Tasks and workflow runs requested with an API key belong to that key (a key has no user row)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agents_app.models import AgentTask, WorkflowRun
from devskyy.core.roles import Role
from tests.support.auth import make_api_key

pytestmark = pytest.mark.django_db

TASK = {"agent_id": "commerce-001", "action": "low_stock_report", "parameters": {"threshold": 3}}


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def test_a_task_requested_with_an_api_key_is_visible_to_that_key_only(catalog, api) -> None:
    mine, other = make_api_key(Role.API_USER), make_api_key(Role.API_USER)
    created = _client(mine.key).post("/api/v1/tasks", TASK, format="json")
    assert created.status_code == 202, created.content
    task_id = created.json()["id"]
    row = AgentTask.objects.get(pk=task_id)
    assert (row.requested_by_id, row.requested_by_key) == (None, mine.api_key.prefix)

    assert _client(mine.key).get(f"/api/v1/tasks/{task_id}").status_code == 200
    assert [t["id"] for t in _client(mine.key).get("/api/v1/tasks").json()["results"]] == [task_id]
    # Another key and a user without staff rights see neither the task nor its existence.
    assert _client(other.key).get(f"/api/v1/tasks/{task_id}").status_code == 404
    assert _client(other.key).get("/api/v1/tasks").json()["results"] == []
    assert api.get(f"/api/v1/tasks/{task_id}").status_code == 404


def test_an_idempotency_key_is_per_api_key(catalog) -> None:
    mine, other = make_api_key(Role.API_USER), make_api_key(Role.API_USER)
    first = _client(mine.key).post("/api/v1/tasks", TASK, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    again = _client(mine.key).post("/api/v1/tasks", TASK, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    theirs = _client(other.key).post("/api/v1/tasks", TASK, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert first.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert theirs.status_code == 202
    assert theirs.json()["id"] != first.json()["id"]
    assert AgentTask.objects.count() == 2


def test_a_workflow_started_with_an_api_key_belongs_to_that_key(catalog) -> None:
    mine, other = make_api_key(Role.API_USER), make_api_key(Role.API_USER)
    started = _client(mine.key).post(
        "/api/v1/orchestration/workflows",
        {"workflow_name": "inventory_optimization", "parameters": {}},
        format="json",
    )
    assert started.status_code == 202, started.content
    run_id = started.json()["id"]
    assert WorkflowRun.objects.get(pk=run_id).requested_by_key == mine.api_key.prefix
    assert _client(mine.key).get(f"/api/v1/orchestration/workflows/{run_id}").status_code == 200
    assert _client(other.key).get(f"/api/v1/orchestration/workflows/{run_id}").status_code == 404
