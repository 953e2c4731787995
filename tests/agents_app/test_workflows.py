"""Workflows: DAGs of agent actions run as tasks, in parallel where the graph allows,
outputs passed by reference, failure policies, validation, cancel, events."""

# JSON results and optional relations are read in asserts:
# mypy: disable-error-code="index, union-attr"
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from agents_app.models import AgentTask, TaskStatus, WorkflowRun, WorkflowStep
from commerce_app.models import Product
from devskyy.feed.models import FeedEvent

pytestmark = pytest.mark.django_db
# Run in both passes: SQLite + local memory, and PostgreSQL + Redis.
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])

URL = "/api/v1/orchestration/workflows"


@pytest.fixture(autouse=True)
def _no_llm(settings) -> None:
    settings.LLM_PROVIDERS = {name: {"api_key": "", "base_url": ""} for name in settings.LLM_PROVIDERS}


@pytest.fixture
def hoodie(db) -> Product:
    return Product.objects.create(
        sku="HOODIE-NOIR-M",
        name="Noir Heavyweight Hoodie M",
        category="hoodies",
        collection="Black Rose",
        price=Decimal("148.00"),
        cost=Decimal("52.00"),
        stock=3,
    )


def graph(on_failure: str = "skip") -> dict[str, Any]:
    """a and b run in parallel; c uses a's output; b fails (no such SKU), so d and e
    (which waits for c and d) cannot run."""
    return {
        "on_failure": on_failure,
        "steps": [
            {"id": "a", "agent": "commerce-001", "action": "stock_query", "parameters": {"skus": ["HOODIE-NOIR-M"]}},
            {"id": "b", "agent": "commerce-001", "action": "product_lookup", "parameters": {"sku": "NO-SUCH-SKU"}},
            {
                "id": "c",
                "agent": "commerce-001",
                "action": "catalog_search",
                "parameters": {"query": {"$ref": "steps.a.result.items.0.name"}, "status": "any"},
                "depends_on": ["a"],
            },
            {
                "id": "d",
                "agent": "commerce-001",
                "action": "product_lookup",
                "parameters": {"sku": {"$ref": "steps.b.result.sku"}},
                "depends_on": ["b"],
            },
            {"id": "e", "agent": "commerce-001", "action": "margin_report", "depends_on": ["c", "d"]},
        ],
    }


def _create(api, committed, body: dict[str, Any]) -> dict[str, Any]:
    with committed():
        response = api.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def _steps(run_id: str) -> dict[str, WorkflowStep]:
    return {s.step_id: s for s in WorkflowStep.objects.filter(run__pk=run_id).select_related("task")}


@BOTH
def test_a_dag_runs_parallel_branches_passes_outputs_and_skips_after_a_failure(
    backend, api, catalog, hoodie, task_queue, committed
) -> None:
    created = _create(api, committed, {"workflow_name": "custom", "parameters": graph("skip"), "parallel": True})
    assert created["status"] == "running"
    # Both roots were queued at once: the graph allows it.
    assert len(task_queue.pending) == 2
    assert {s["id"]: s["status"] for s in created["steps"]} == {
        "a": "running",
        "b": "running",
        "c": "waiting",
        "d": "waiting",
        "e": "waiting",
    }

    task_queue.drain()

    run = WorkflowRun.objects.get(pk=created["id"])
    steps = _steps(created["id"])
    assert {k: s.status for k, s in steps.items()} == {
        "a": "completed",
        "b": "failed",
        "c": "completed",
        "d": "skipped",
        "e": "skipped",
    }
    assert steps["b"].error_code == "tool_error"
    assert steps["d"].error_code == "dependency_failed"
    assert steps["e"].error_code == "dependency_skipped"
    assert steps["d"].task is None
    assert steps["e"].task is None
    # c received a's output by reference, resolved when it started.
    assert steps["c"].resolved_parameters == {"query": "Noir Heavyweight Hoodie M", "status": "any"}
    assert steps["c"].task.result["products"][0]["sku"] == "HOODIE-NOIR-M"
    assert run.status == "failed"
    assert "b" in run.error
    assert AgentTask.objects.count() == 3

    body = api.get(f"{URL}/{run.id}").json()
    assert body["status"] == "failed"
    assert body["counts"] == {"completed": 2, "failed": 1, "skipped": 2}
    by_id = {s["id"]: s for s in body["steps"]}
    assert by_id["a"]["result"]["total_units"] == 3
    assert by_id["b"]["task_status"] == "failed"
    assert "NO-SUCH-SKU" in by_id["b"]["error"]

    events = [e.payload for e in FeedEvent.objects.filter(channel="tasks", type="workflow_update").order_by("seq")]
    assert all(e["workflow_id"] == str(run.id) for e in events)
    assert events[-1]["status"] == "failed"
    assert {e["data"]["step"]["id"] for e in events if "step" in e["data"]} == {"a", "b", "c", "d", "e"}


@BOTH
def test_the_fail_policy_fails_dependents_and_stops_the_run(
    backend, api, catalog, hoodie, task_queue, committed
) -> None:
    created = _create(api, committed, {"workflow_name": "custom", "parameters": graph("fail")})
    # b first: it fails, the run stops while a is still queued.
    b_task = next(s.task_id for s in _steps(created["id"]).values() if s.step_id == "b")
    task_queue.run(str(b_task))
    task_queue.drain()

    steps = _steps(created["id"])
    assert steps["b"].status == "failed"
    assert (steps["d"].status, steps["d"].error_code) == ("failed", "dependency_failed")
    assert (steps["e"].status, steps["e"].error_code) == ("failed", "dependency_failed")
    assert (steps["c"].status, steps["c"].error_code) == ("cancelled", "run_stopped")
    assert steps["a"].status == "cancelled"  # its pending task was cancelled, never run
    assert steps["a"].task.status == TaskStatus.CANCELLED
    run = WorkflowRun.objects.get(pk=created["id"])
    assert run.status == "failed"
    assert run.error.startswith("step 'b' failed (tool_error)")


def test_without_parallel_one_step_runs_at_a_time(api, catalog, hoodie, task_queue, committed) -> None:
    created = _create(api, committed, {"workflow_name": "custom", "parameters": graph("skip"), "parallel": False})
    assert len(task_queue.pending) == 1
    seen = []
    while task_queue.pending:
        assert len(task_queue.pending) == 1
        seen.append(task_queue.pending[0])
        task_queue.run_next()
    assert len(seen) == 3  # a, b, c; d and e skipped
    assert WorkflowRun.objects.get(pk=created["id"]).status == "failed"


def test_a_template_runs_its_tool_steps_without_an_llm_and_its_llm_step_fails_clearly(
    api, catalog, hoodie, task_queue, committed
) -> None:
    created = _create(
        api, committed, {"workflow_name": "inventory_optimization", "parameters": {"threshold": 5}, "parallel": True}
    )
    assert len(task_queue.pending) == 3  # low_stock, valuation, margins in parallel
    task_queue.drain()

    steps = _steps(created["id"])
    assert [steps[k].status for k in ("low_stock", "valuation", "margins")] == ["completed"] * 3
    assert steps["low_stock"].task.result["items"][0]["sku"] == "HOODIE-NOIR-M"
    assert (steps["plan"].status, steps["plan"].error_code) == ("failed", "llm_not_configured")
    assert "no LLM provider configured" in steps["plan"].error
    assert steps["plan"].task is None
    run = WorkflowRun.objects.get(pk=created["id"])
    assert (run.status, run.failure_policy) == ("failed", "fail")


@pytest.mark.parametrize("name", ["product_launch", "campaign_optimization", "customer_reengagement"])
def test_every_template_expands_to_a_valid_graph(api, catalog, hoodie, committed, task_queue, name) -> None:
    params = {"sku": "HOODIE-NOIR-M"} if name == "product_launch" else {}
    created = _create(api, committed, {"workflow_name": name, "parameters": params})
    assert len(created["steps"]) >= 3
    assert any(s["action"] == "llm_complete" for s in created["steps"])
    assert task_queue.pending  # the roots started


def test_the_agents_override_runs_a_step_with_another_allowed_agent(api, catalog, hoodie, committed, task_queue):
    created = _create(
        api,
        committed,
        {"workflow_name": "inventory_optimization", "parameters": {}, "agents": {"low_stock": "support-006"}},
    )
    assert next(s for s in created["steps"] if s["id"] == "low_stock")["agent_id"] == "support-006"


def _refuse(api, body: dict[str, Any]) -> list[dict[str, str]]:
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert WorkflowRun.objects.count() == 0
    assert WorkflowStep.objects.count() == 0
    assert AgentTask.objects.count() == 0
    return response.json()["error"]["details"].get("errors", [])


def _step(step_id: str, **kw: Any) -> dict[str, Any]:
    return {"id": step_id, "agent": "commerce-001", "action": "catalog_search", "parameters": {}, **kw}


@pytest.mark.parametrize(
    ("steps", "path", "message"),
    [
        ([_step("a", depends_on=["b"]), _step("b", depends_on=["a"])], "/parameters/steps", "cycle: a, b"),
        ([_step("a", agent="nobody-001")], "/parameters/steps/0/agent", "unknown agent 'nobody-001'"),
        ([_step("a", action="teleport")], "/parameters/steps/0/action", "unknown action 'teleport'"),
        ([_step("a", action="order_lookup")], "/parameters/steps/0/action", "may not use 'order_lookup'"),
        ([_step(f"s{i}") for i in range(21)], "/parameters/steps", "at most 20 steps"),
        (
            [_step("a"), _step("b", parameters={"query": {"$ref": "a.result.name"}}, depends_on=["a"])],
            "/parameters/steps/1/parameters/query",
            "bad $ref 'a.result.name'",
        ),
        (
            [_step("a"), _step("b", parameters={"query": {"$ref": "steps.a.result.name"}})],
            "/parameters/steps/1/parameters/query",
            "is not a dependency of 'b'",
        ),
        (
            [_step("a", parameters={"query": {"$ref": "steps.zz.result"}})],
            "/parameters/steps/0/parameters/query",
            "no step 'zz'",
        ),
        ([_step("a", parameters={"limit": 0})], "/parameters/steps/0/parameters/limit", "less than the minimum"),
        ([_step("a", depends_on=["ghost"])], "/parameters/steps/0/depends_on", "unknown step 'ghost'"),
        ([_step("a"), _step("a")], "/parameters/steps/1/id", "duplicate step id"),
    ],
    ids=[
        "cycle",
        "unknown-agent",
        "unknown-action",
        "action-not-allowed",
        "too-many-steps",
        "bad-ref-format",
        "ref-not-a-dependency",
        "ref-unknown-step",
        "schema-invalid-param",
        "unknown-dependency",
        "duplicate-id",
    ],
)
def test_an_invalid_custom_dag_is_refused_with_details_and_nothing_written(api, catalog, steps, path, message) -> None:
    errors = _refuse(api, {"workflow_name": "custom", "parameters": {"steps": steps}})
    assert any(e["path"] == path and message in e["message"] for e in errors), errors


def test_every_problem_is_reported_at_once(api, catalog) -> None:
    errors = _refuse(
        api,
        {
            "workflow_name": "custom",
            "parameters": {"steps": [_step("a", agent="nobody-001"), _step("b", action="teleport")]},
        },
    )
    assert {e["path"] for e in errors} == {"/parameters/steps/0/agent", "/parameters/steps/1/action"}


def test_bad_template_parameters_and_unknown_names_are_refused(api, catalog) -> None:
    assert _refuse(api, {"workflow_name": "product_launch", "parameters": {}})[0]["path"] == "/parameters"
    assert _refuse(api, {"workflow_name": "product_launch", "parameters": {"sku": "X", "colour": "red"}})
    response = api.post(URL, {"workflow_name": "world_domination", "parameters": {}}, format="json")
    assert response.status_code == 400
    assert _refuse(
        api, {"workflow_name": "inventory_optimization", "parameters": {}, "agents": {"nope": "commerce-001"}}
    ) == [{"path": "/agents/nope", "message": "unknown step"}]


def test_a_reference_missing_at_run_time_fails_the_step(api, catalog, hoodie, task_queue, committed) -> None:
    steps = [
        {"id": "a", "agent": "commerce-001", "action": "stock_query", "parameters": {"skus": ["HOODIE-NOIR-M"]}},
        {
            "id": "b",
            "agent": "commerce-001",
            "action": "product_lookup",
            "parameters": {"sku": {"$ref": "steps.a.result.items.7.sku"}},
            "depends_on": ["a"],
        },
    ]
    created = _create(api, committed, {"workflow_name": "custom", "parameters": {"steps": steps}})
    task_queue.drain()
    step = _steps(created["id"])["b"]
    assert (step.status, step.error_code) == ("failed", "unresolved_ref")


def test_cancel_stops_a_run_and_a_finished_run_cannot_be_cancelled(api, catalog, hoodie, task_queue, committed) -> None:
    created = _create(api, committed, {"workflow_name": "custom", "parameters": graph("skip")})
    with committed():
        response = api.post(f"{URL}/{created['id']}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    task_queue.drain()  # the queued tasks were cancelled before they started
    steps = _steps(created["id"])
    assert {s.status for s in steps.values()} == {"cancelled"}
    assert all(t.status == TaskStatus.CANCELLED for t in AgentTask.objects.all())
    again = api.post(f"{URL}/{created['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "workflow_not_cancellable"


def test_another_users_run_is_not_found(api, catalog, hoodie, task_queue, committed, other_user) -> None:
    created = _create(api, committed, {"workflow_name": "custom", "parameters": graph()})
    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.get(f"{URL}/{created['id']}").status_code == 404
    assert stranger.post(f"{URL}/{created['id']}/cancel").status_code == 404


def test_templates_are_listed_with_their_schemas(api) -> None:
    body = api.get(f"{URL}/templates").json()
    assert {t["name"] for t in body["templates"]} == {
        "product_launch",
        "campaign_optimization",
        "inventory_optimization",
        "customer_reengagement",
    }
