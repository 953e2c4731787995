"""The operator console: admin pages, actions through services, constant query counts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents_app.models import Agent, AgentTask, TaskStatus
from commerce_app.models import Customer, Order, OrderItem, Product
from devskyy.core.audit import audit_record
from devskyy.core.models import AuditLog
from devskyy.feed.models import FeedEvent
from tests.support.auth import make_api_key
from tests.support.servers import ROOT, base_env

pytestmark = pytest.mark.django_db

ADMIN = "/" + settings.ADMIN_URL
AGENTS = ADMIN + "agents_app/agent/"
TASKS = ADMIN + "agents_app/agenttask/"


@pytest.fixture
def agents() -> None:
    call_command("seed_agents", stdout=io.StringIO())


def _run_tool(client: Client, agent: Agent, **fields: str) -> Any:
    data = {"action": "run_tool", "_selected_action": [str(agent.pk)], **fields}
    return client.post(AGENTS, data)


def test_run_tool_action_shows_a_form_with_the_agents_tools_and_their_schemas(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    page = _run_tool(admin_client, agent)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="run-tool-form"' in html
    for tool in agent.tools:
        assert f'value="{tool}"' in html
    assert "&quot;threshold&quot;" in html  # low_stock_report's schema is shown
    assert AgentTask.objects.count() == 0


def test_run_tool_action_creates_a_task_through_the_service(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    response = _run_tool(admin_client, agent, apply="1", tool="low_stock_report", parameters='{"threshold": 5}')
    assert response.status_code == 302
    task = AgentTask.objects.get()
    assert (task.agent_id, task.action, task.parameters) == (agent.pk, "low_stock_report", {"threshold": 5})
    assert task.requested_by is not None
    assert task.requested_by.is_superuser
    listing = admin_client.get(response["Location"]).content.decode()
    assert f'data-task-link="{task.pk}"' in listing


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ("{threshold: 5}", "Not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"threshold": "five"}', "/threshold: &#x27;five&#x27; is not of type &#x27;integer&#x27;"),
        ('{"nope": 1}', "Additional properties are not allowed"),
    ],
)
def test_run_tool_action_refuses_bad_parameters_and_creates_nothing(
    admin_client: Client, agents, parameters: str, error: str
) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    page = _run_tool(admin_client, agent, apply="1", tool="low_stock_report", parameters=parameters)
    assert page.status_code == 200
    assert error in page.content.decode()
    assert AgentTask.objects.count() == 0


def test_run_tool_action_refuses_a_tool_the_agent_may_not_use(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    other = next(t for t in Agent.objects.get(slug="analytics-001").tools if t not in agent.tools)
    page = _run_tool(admin_client, agent, apply="1", tool=other, parameters="{}")
    assert "Select a valid choice" in page.content.decode()
    assert AgentTask.objects.count() == 0


def test_run_tool_action_on_a_stopped_agent_says_so(admin_client: Client, agents) -> None:
    admin_client.post(
        AGENTS, {"action": "stop_agents", "_selected_action": [str(Agent.objects.get(slug="commerce-001").pk)]}
    )
    agent = Agent.objects.get(slug="commerce-001")
    assert not agent.enabled
    page = _run_tool(admin_client, agent, apply="1", tool="low_stock_report", parameters="{}")
    assert "is stopped; start it first" in page.content.decode()
    assert AgentTask.objects.count() == 0


def test_run_tool_action_needs_exactly_one_agent(admin_client: Client, agents) -> None:
    two = [str(pk) for pk in Agent.objects.values_list("pk", flat=True)[:2]]
    response = admin_client.post(AGENTS, {"action": "run_tool", "_selected_action": two}, follow=True)
    assert "Select exactly one agent" in response.content.decode()


def test_agent_page_shows_stats_and_recent_tasks(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="analytics-001")
    now = timezone.now()
    for i in range(12):
        AgentTask.objects.create(
            agent=agent,
            action="sales_summary",
            status=TaskStatus.COMPLETED if i % 4 else TaskStatus.FAILED,
            duration_ms=100 + i,
            created_at=now - timedelta(minutes=i),
            finished_at=now - timedelta(minutes=i),
        )
    html = admin_client.get(f"{AGENTS}{agent.pk}/change/").content.decode()
    assert "&quot;tasksCompleted&quot;: 9" in html
    assert "&quot;successRate&quot;: 75.0" in html
    assert html.count(TASKS) >= 10  # last ten tasks linked
    listing = admin_client.get(AGENTS + "?q=analytics-001").content.decode()
    assert '<td class="field-tasks_completed">9</td>' in listing
    assert '<td class="field-success_rate">75.0</td>' in listing


def test_agent_edit_refuses_unregistered_tools_and_leaves_status_to_the_actions(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    url = f"{AGENTS}{agent.pk}/change/"
    form = {
        "type": agent.type,
        "name": "Renamed",
        "description": agent.description,
        "category": agent.category,
        "capabilities": json.dumps(agent.capabilities),
        "tools": json.dumps([*agent.tools, "no_such_tool"]),
        "ml_models": json.dumps(agent.ml_models),
        "system_prompt": agent.system_prompt,
        "preferred_provider": agent.preferred_provider,
        "preferred_model": agent.preferred_model,
        "status": "disabled",
    }
    refused = admin_client.post(url, form)
    assert refused.status_code == 200
    assert "Not registered tool(s): no_such_tool" in refused.content.decode()
    form["tools"] = json.dumps(agent.tools)
    assert admin_client.post(url, form).status_code == 302
    agent.refresh_from_db()
    assert agent.name == "Renamed"
    assert agent.status == "idle"  # read-only on the form: only the actions change it
    assert agent.enabled


def test_task_page_shows_parameters_result_and_steps_as_readable_json(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="analytics-001")
    task = AgentTask.objects.create(
        agent=agent,
        action="llm_complete",
        parameters={"prompt": "hi"},
        status=TaskStatus.COMPLETED,
        result={"text": "<b>answer</b>", "steps": [{"step": 1, "tool": "sales_summary"}]},
    )
    html = admin_client.get(f"{TASKS}{task.pk}/change/").content.decode()
    assert "&quot;prompt&quot;: &quot;hi&quot;" in html
    assert "&lt;b&gt;answer&lt;/b&gt;" in html  # escaped, never rendered as HTML
    assert "&quot;tool&quot;: &quot;sales_summary&quot;" in html
    assert admin_client.get(f"{TASKS}{task.pk}/delete/").status_code == 403


def test_retry_action_creates_a_new_task_and_refuses_completed_ones(admin_client: Client, agents) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    failed = AgentTask.objects.create(
        agent=agent, action="low_stock_report", parameters={"threshold": 3}, status=TaskStatus.FAILED
    )
    done = AgentTask.objects.create(agent=agent, action="low_stock_report", status=TaskStatus.COMPLETED)
    response = admin_client.post(
        TASKS, {"action": "retry_tasks", "_selected_action": [str(failed.pk), str(done.pk)]}, follow=True
    )
    html = response.content.decode()
    retry = AgentTask.objects.get(retry_of=failed)
    assert f"retried as {retry.pk}" in html
    assert "Only failed or cancelled tasks can be retried" in html
    assert AgentTask.objects.count() == 3


def test_task_filters_by_agent_status_and_date(admin_client: Client, agents) -> None:
    a = Agent.objects.get(slug="commerce-001")
    b = Agent.objects.get(slug="analytics-001")
    t1 = AgentTask.objects.create(agent=a, action="low_stock_report", status=TaskStatus.FAILED)
    t2 = AgentTask.objects.create(agent=b, action="sales_summary", status=TaskStatus.COMPLETED)
    old = AgentTask.objects.create(
        agent=a, action="low_stock_report", status=TaskStatus.FAILED, created_at=timezone.now() - timedelta(days=40)
    )
    by_agent = admin_client.get(TASKS, {"agent__id__exact": a.pk}).content.decode()
    assert str(t1.pk) in by_agent
    assert str(old.pk) in by_agent
    assert str(t2.pk) not in by_agent
    by_status = admin_client.get(TASKS, {"status__exact": "completed"}).content.decode()
    assert str(t2.pk) in by_status
    assert str(t1.pk) not in by_status
    since = (timezone.now() - timedelta(days=7)).isoformat()
    recent = admin_client.get(TASKS, {"created_at__gte": since}).content.decode()
    assert str(t1.pk) in recent
    assert str(old.pk) not in recent


def test_audit_log_separates_security_events_and_is_read_only(admin_client: Client) -> None:
    audit_record(action="ws.connect.denied", actor_label="anonymous", details={"reason": "origin_not_allowed"})
    audit_record(action="agent.started", actor_label="user:op")
    base = ADMIN + "core/auditlog/"
    security = admin_client.get(base, {"kind": "security"}).content.decode()
    assert '<td class="field-action">ws.connect.denied</td>' in security
    assert '<td class="field-action">agent.started</td>' not in security
    row = AuditLog.objects.get(action="ws.connect.denied")
    assert admin_client.get(f"{base}{row.pk}/delete/").status_code == 403
    assert (
        "&quot;reason&quot;: &quot;origin_not_allowed&quot;"
        in admin_client.get(f"{base}{row.pk}/change/").content.decode()
    )


def test_feed_events_are_read_only(admin_client: Client) -> None:
    event = FeedEvent.objects.create(
        channel="tasks", type="task_update", payload={"status": "ok"}, created_at=timezone.now()
    )
    base = ADMIN + "feed/feedevent/"
    assert admin_client.get(f"{base}{event.pk}/delete/").status_code == 403
    assert admin_client.get(f"{base}add/").status_code == 403
    assert "&quot;status&quot;: &quot;ok&quot;" in admin_client.get(f"{base}{event.pk}/change/").content.decode()


# --- query budgets: a changelist costs the same number of queries for 3 rows or 30 ----------


def _make_tasks(n: int) -> None:
    agent = Agent.objects.get(slug="commerce-001")
    AgentTask.objects.bulk_create(
        AgentTask(agent=agent, action="low_stock_report", status=TaskStatus.COMPLETED, duration_ms=5) for _ in range(n)
    )


def _make_audit(n: int) -> None:
    for i in range(n):
        audit_record(action="agent.started", actor_label=f"user:{i}")


def _make_events(n: int) -> None:
    now = timezone.now()
    FeedEvent.objects.bulk_create(
        FeedEvent(channel="tasks", type="task_update", task_id=str(i), created_at=now) for i in range(n)
    )


def _make_orders(n: int) -> None:
    start = Order.objects.count()
    product = Product.objects.get_or_create(sku="Q-1", defaults={"name": "P", "price": Decimal("5"), "category": "c"})[
        0
    ]
    for i in range(start, start + n):
        customer = Customer.objects.create(email=f"c{i}@example.com")
        order = Order.objects.create(
            number=f"N{i}", customer=customer, subtotal=Decimal("5"), total=Decimal("5"), placed_at=timezone.now()
        )
        OrderItem.objects.create(order=order, product=product, sku="Q-1", quantity=1, unit_price=Decimal("5"))


def _make_products(n: int) -> None:
    start = Product.objects.count()
    Product.objects.bulk_create(
        Product(sku=f"S-{i}", name=f"P{i}", price=Decimal("1"), category="c") for i in range(start, start + n)
    )


def _make_keys(n: int) -> None:
    for _ in range(n):
        make_api_key()


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("agents_app/agenttask/", _make_tasks),
        ("agents_app/agent/", lambda n: None),
        ("core/auditlog/", _make_audit),
        ("feed/feedevent/", _make_events),
        ("commerce_app/order/", _make_orders),
        ("commerce_app/customer/", lambda n: None),
        ("commerce_app/product/", _make_products),
        ("core/apikey/", _make_keys),
    ],
)
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client: Client, agents, path: str, make: Callable[[int], None]
) -> None:
    url = ADMIN + path

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries)

    make(3)
    admin_client.get(url)  # warm per-process caches (content types, sessions)
    few = count()
    make(30)
    many = count()
    assert many == few, f"{path}: {few} queries with few rows, {many} with many"
    assert few <= 14, f"{path}: {few} queries"


def test_the_admin_is_served_at_admin_url() -> None:
    script = "from django.urls import reverse; print(reverse('admin:index'))"
    env = base_env({"ADMIN_URL": "ops-7f3k/"})
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "/ops-7f3k/"


def test_api_key_admin_shows_a_new_key_once_and_revokes(admin_client: Client) -> None:
    base = ADMIN + "core/apikey/"
    response = admin_client.post(base + "add/", {"name": "shop-sync", "role": "api_user"}, follow=True)
    html = response.content.decode()
    assert "copy it now" in html
    listing = admin_client.get(base).content.decode()
    assert "copy it now" not in listing
    from devskyy.core.models import APIKey

    key = APIKey.objects.get(name="shop-sync")
    admin_client.post(base, {"action": "revoke_selected", "_selected_action": [str(key.pk)]})
    key.refresh_from_db()
    assert key.revoked  # revoked, not deleted: the row stays as the record of the key
