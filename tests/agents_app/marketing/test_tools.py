"""The campaign tools, run as agent tasks through the real task lifecycle."""

# mypy: disable-error-code="no-untyped-def, index"
from __future__ import annotations

import pytest

from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.tools.base import registry
from tests.agents_app.marketing.conftest import email_copy

pytestmark = pytest.mark.django_db


def _run(api, queue, committed, slug: str, action: str, parameters: dict) -> AgentTask:
    with committed():
        response = api.post(
            "/api/v1/tasks", {"agent_id": slug, "action": action, "parameters": parameters}, format="json"
        )
    assert response.status_code == 202, response.json()
    queue.drain()
    return AgentTask.objects.get(pk=response.json()["id"])


def test_the_marketing_agents_may_use_the_campaign_tools(catalog) -> None:
    tools = {a.slug: set(a.tools) for a in Agent.objects.filter(slug__startswith="marketing-")}
    for slug in ("marketing-001", "marketing-002", "marketing-003", "marketing-004"):
        assert "campaign_write_copy" in tools[slug]
    assert {"campaign_audience", "campaign_results"} <= tools["marketing-001"]
    assert registry()["campaign_write_copy"].kind == "llm"


def test_campaign_audience_tool_counts_real_customers(api, shop, catalog, queue, committed) -> None:
    ana = shop.customer("ana@example.com", country="US")
    shop.customer("ben@example.com", country="US", accepts_marketing=False)
    shop.customer("cy@example.com", country="GB")
    shop.order(ana, days_ago=2)
    task = _run(api, queue, committed, "marketing-001", "campaign_audience", {"target_audience": {"countries": ["US"]}})
    assert task.status == TaskStatus.COMPLETED
    assert task.result["size"] == 1
    assert [row["email"] for row in task.result["sample"]] == ["ana@example.com"]


def test_campaign_audience_tool_refuses_an_unknown_key_before_any_task_exists(api, catalog, queue) -> None:
    response = api.post(
        "/api/v1/tasks",
        {"agent_id": "marketing-001", "action": "campaign_audience", "parameters": {"target_audience": {"vip": True}}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_tool_input"
    assert AgentTask.objects.count() == 0


def test_campaign_results_tool_reports_what_was_sent(api, shop, llm, queue, committed) -> None:
    shop.customer("ana@example.com", first_name="Ana")
    llm.queue(email_copy("Hi", "Hi {first_name}"))
    with committed():
        created = api.post(
            "/api/v1/marketing/campaigns",
            {"campaign_type": "email", "content_template": "Say hi to {first_name}"},
            format="json",
        ).json()
    queue.drain()
    task = _run(api, queue, committed, "marketing-001", "campaign_results", {"campaign_id": created["id"]})
    assert task.status == TaskStatus.COMPLETED
    assert task.result["status"] == "completed"
    assert task.result["messages"]["sent"] == 1
    missing = _run(
        api,
        queue,
        committed,
        "marketing-001",
        "campaign_results",
        {"campaign_id": "00000000-0000-0000-0000-000000000009"},
    )
    assert (missing.status, missing.error_code) == (TaskStatus.FAILED, "campaign_not_found")


def test_write_copy_on_a_campaign_that_is_not_a_draft_writes_nothing_more(api, shop, llm, queue, committed) -> None:
    shop.customer("ana@example.com")
    llm.queue(email_copy("Hi", "Hi"))
    with committed():
        created = api.post(
            "/api/v1/marketing/campaigns", {"campaign_type": "email", "content_template": "Hello"}, format="json"
        ).json()
    queue.drain()
    again = _run(api, queue, committed, "marketing-002", "campaign_write_copy", {"campaign_id": created["id"]})
    assert again.status == TaskStatus.COMPLETED
    assert again.result["written"] is False
    assert llm.request_count == 1


def test_the_copy_parser_takes_sections_and_keeps_the_subject_on_one_line() -> None:
    from agents_app.marketing.copy import parse_copy

    fields, removed = parse_copy(
        "**SUBJECT:** Back\nin stock\nEMAIL:\nHi {first_name}, use {code}.\nSMS:\nHi {first_name}!",
        ("email", "sms"),
    )
    assert fields == {
        "subject": "Back in stock",
        "email_body": "Hi {first_name}, use .",
        "sms_body": "Hi {first_name}!",
    }
    assert removed == ["code"]
    assert parse_copy("Just the post.", ("social",))[0] == {"social_body": "Just the post."}
