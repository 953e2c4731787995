"""PERF P10: every list endpoint reads a constant number of queries, whatever its size.

Each GET route of the URL conf is either a list with a budget in ``BUDGETS`` or named
in ``NOT_LISTS`` with the reason (``test_every_get_route_is_budgeted_or_not_a_list``
walks the resolver, so a new route fails until someone decides). A budgeted list is
read twice, cold (no per-process caches, as a fresh worker would), once with a small
and once with a large data volume and page size, by an admin with a real JWT (so the
count includes authentication); both reads must use exactly the budgeted queries.

``QUERY_BUDGET_REPORT=<path>`` writes the measured counts as JSON for ``bench/query_budgets.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.devskyy.core.test_auth_matrix import all_routes
from tests.support.auth import access_token, bearer, make_api_key, make_user

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 30


@dataclass(frozen=True)
class Budget:
    """``fill(n)`` makes n rows the list shows; ``query(n)`` its query string for a page
    of n; ``count(body)`` how many items the response holds (must be n unless the list
    is code-defined, ``fixed``)."""

    queries: int
    fill: Callable[[int], None]
    query: Callable[[int], dict[str, Any]] = field(default=lambda n: {"limit": n})
    count: Callable[[Any], int] = field(default=lambda body: len(body["results"]))
    fixed: bool = False
    url: str | None = None  # the path to request when the route has parameters


# --- data makers (ORM rows the way the services leave them; only reads are measured) ---


def _agents(n: int) -> None:
    from agents_app.models import Agent, AgentTask, TaskStatus

    now = timezone.now()
    for i in range(n):
        agent = Agent.objects.create(slug=f"budget-{uuid.uuid4().hex[:8]}", type="t", name=str(i), category="analytics")
        AgentTask.objects.create(
            agent=agent, action="sales_summary", status=TaskStatus.COMPLETED, duration_ms=10, finished_at=now
        )


def _agent_tools(n: int) -> None:
    from agents_app.models import Agent
    from agents_app.tools import load
    from agents_app.tools.base import registry

    load()
    agent, _ = Agent.objects.get_or_create(
        slug="budget-agent", defaults={"type": "t", "name": "b", "category": "analytics", "tools": []}
    )
    have = len(agent.tools)
    agent.tools = sorted(registry())[: have + n]
    agent.save(update_fields=["tools"])


def _tasks(n: int) -> None:
    from agents_app.models import Agent, AgentTask

    agents = [
        Agent.objects.get_or_create(slug=f"ops-{i}", defaults={"type": "t", "name": str(i), "category": "operations"})[
            0
        ]
        for i in range(3)
    ]
    for i in range(n):
        AgentTask.objects.create(agent=agents[i % 3], action="sales_summary")


def _round_tables(n: int) -> None:
    from agents_app.llm.models import RoundTable, RoundTableEntry

    for i in range(n):
        table = RoundTable.objects.create(prompt=f"p{i}", status="completed", agent_slug="analytics-001")
        entries = [
            RoundTableEntry.objects.create(
                round_table=table, provider=p, model="m", status="ok", score=Decimal("50"), rank=r, cost_usd=Decimal(1)
            )
            for r, p in enumerate(("openai", "anthropic"), start=1)
        ]
        table.winner = entries[0]
        table.save(update_fields=["winner"])


def _api_keys(n: int) -> None:
    for _ in range(n):
        make_api_key()


def _audit(n: int) -> None:
    from devskyy.core.models import AuditLog

    actor = make_user(username=f"actor-{uuid.uuid4().hex[:6]}")
    AuditLog.objects.bulk_create(
        AuditLog(actor=actor, actor_label=f"user:{actor.username}", action="budget.test") for _ in range(n)
    )


def _products(n: int, *, stock: int = 10) -> None:
    from commerce_app.models import Product

    for i in range(n):
        Product.objects.create(
            sku=f"B-{uuid.uuid4().hex[:8]}-{i}", name=f"p{i}", price=Decimal(50), cost=Decimal(20), stock=stock
        )


def _low_stock(n: int) -> None:
    from commerce_app.models import Order, OrderItem, OrderStatus, Product

    _products(n, stock=1)
    order = Order.objects.create(
        number=f"LS-{uuid.uuid4().hex[:6]}",
        status=OrderStatus.COMPLETED,
        subtotal=Decimal(1),
        total=Decimal(1),
        placed_at=timezone.now(),
    )
    for product in Product.objects.all():
        OrderItem.objects.create(order=order, product=product, sku=product.sku, quantity=1, unit_price=Decimal(1))


def _orders(n: int) -> None:
    from commerce_app.models import Customer, Order, OrderItem, OrderStatus, Product

    product = Product.objects.create(sku=f"O-{uuid.uuid4().hex[:8]}", name="o", price=Decimal(5), cost=Decimal(1))
    for i in range(n):
        customer = Customer.objects.create(email=f"c{i}-{uuid.uuid4().hex[:6]}@example.com")
        order = Order.objects.create(
            number=f"N-{uuid.uuid4().hex[:8]}",
            customer=customer,
            status=OrderStatus.COMPLETED,
            subtotal=Decimal(5),
            total=Decimal(5),
            placed_at=timezone.now() - timedelta(days=i),
        )
        for _ in range(2):
            OrderItem.objects.create(order=order, product=product, sku=product.sku, quantity=1, unit_price=Decimal(5))


def _customers(n: int) -> None:
    from commerce_app.models import Customer

    for i in range(n):
        Customer.objects.create(email=f"k{i}-{uuid.uuid4().hex[:6]}@example.com")


def _subscriptions(n: int) -> None:
    from devskyy.webhooks.models import WebhookSubscription

    for i in range(n):
        WebhookSubscription.objects.create(url=f"https://hooks.example.com/{i}", event_types=["*"], secret="s" * 32)


def _deliveries(n: int) -> None:
    from devskyy.webhooks.models import WebhookDelivery, WebhookSubscription

    subscriptions = [
        WebhookSubscription.objects.create(url=f"https://hooks.example.com/d{i}", event_types=["*"], secret="s" * 32)
        for i in range(2)
    ]
    for i in range(n):
        WebhookDelivery.objects.create(
            subscription=subscriptions[i % 2],
            event_id=uuid.uuid4(),
            event_type="task.completed",
            payload={},
            max_attempts=3,
        )


def _nothing(n: int) -> None:
    """Code-defined lists (tool registry, workflow templates): no rows to add."""


def _provider_credentials(n: int) -> None:
    from agents_app.llm.models import ProviderCredential
    from devskyy.core.encryption import encrypt

    have = set(ProviderCredential.objects.values_list("provider", flat=True))
    for provider in [p for p in ("openai", "anthropic", "google", "mistral", "groq", "cohere") if p not in have][:n]:
        ProviderCredential.objects.create(provider=provider, api_key_encrypted=encrypt("k" * 40), enabled=True)


def _campaigns(n: int) -> None:
    from agents_app.marketing.models import Campaign, CampaignVariant

    for i in range(n):
        campaign = Campaign.objects.create(
            name=f"c{i}",
            campaign_type="email",
            content_template="t",
            send_at=timezone.now(),
            agent_slug="marketing-002",
        )
        CampaignVariant.objects.create(campaign=campaign, label="A", weight=100)


def _campaign_messages(n: int) -> None:
    from agents_app.marketing.models import Campaign, CampaignMessage, CampaignVariant
    from commerce_app.models import Customer

    campaign, created = Campaign.objects.get_or_create(
        name="budget-outbox",
        defaults={
            "campaign_type": "email",
            "content_template": "t",
            "send_at": timezone.now(),
            "agent_slug": "marketing-002",
        },
    )
    variant = CampaignVariant.objects.get_or_create(campaign=campaign, label="A", defaults={"weight": 100})[0]
    for i in range(n):
        customer = Customer.objects.create(email=f"m{i}-{uuid.uuid4().hex[:6]}@example.com")
        CampaignMessage.objects.create(
            campaign=campaign, variant=variant, customer=customer, channel="email", recipient=customer.email
        )


def _campaign_messages_url() -> str:
    from agents_app.marketing.models import Campaign

    campaign = Campaign.objects.filter(name="budget-outbox").first()
    return f"/api/v1/marketing/campaigns/{campaign.pk if campaign else uuid.uuid4()}/messages"


def _media_jobs(kind: str, provider: str) -> Callable[[int], None]:
    def fill(n: int) -> None:
        from agents_app.media.models import MediaJob

        for i in range(n):
            MediaJob.objects.create(
                kind=kind, provider=provider, prompt=f"p{i}", deadline_at=timezone.now() + timedelta(hours=1)
            )

    return fill


def _items(body: Any) -> int:
    return len(body)


# Every count starts with the caller's authentication (AUTH): whether the token was logged
# out, the JWT's user, then its roles.
AUTH = 3
BUDGETS: dict[str, Budget] = {
    "/api/v1/auth/api-keys": Budget(AUTH + 2, _api_keys),  # + count, page
    "/api/v1/audit-log": Budget(AUTH + 2, _audit),  # + count, page
    # + agents with their task aggregates, stored provider credentials (is an LLM configured?),
    # the stored shop connection (is WooCommerce configured?)
    "/api/v1/agents": Budget(AUTH + 3, _agents, query=lambda n: {}, count=_items),
    "/api/v1/agents/<slug:slug>/tools": Budget(  # + the agent, provider credentials, shop connection
        AUTH + 3, _agent_tools, query=lambda n: {}, count=_items, url="/api/v1/agents/budget-agent/tools"
    ),
    "/api/v1/tools": Budget(
        AUTH + 2, _nothing, query=lambda n: {}, count=_items, fixed=True
    ),  # + credentials, shop connection
    "/api/v1/tasks": Budget(AUTH + 1, _tasks),  # + page with agents
    "/api/v1/round-table": Budget(AUTH + 1, _round_tables),  # + page with winners
    "/api/v1/round-table/stats": Budget(  # + 5 aggregates
        AUTH + 5, _round_tables, query=lambda n: {}, count=lambda body: int(body["round_tables"])
    ),
    "/api/v1/round-table/providers": Budget(  # + credentials; at most one row per provider
        AUTH + 1, _provider_credentials, query=lambda n: {}, count=lambda body: len(body["providers"]), fixed=True
    ),
    "/api/v1/orchestration/workflows/templates": Budget(
        AUTH, _nothing, query=lambda n: {}, count=lambda body: len(body["templates"]), fixed=True
    ),
    "/api/v1/commerce/products": Budget(AUTH + 2, _products),  # + count, page
    "/api/v1/commerce/orders": Budget(AUTH + 3, _orders),  # + count, orders with customers, items
    "/api/v1/commerce/customers": Budget(AUTH + 2, _customers),  # + count, page
    "/api/v1/commerce/inventory/low-stock": Budget(  # + products with their units sold (one statement)
        AUTH + 1, _low_stock, count=lambda body: len(body["items"])
    ),
    "/api/v1/webhooks/subscriptions": Budget(AUTH + 1, _subscriptions, query=lambda n: {}, count=_items),  # + rows
    "/api/v1/webhooks/deliveries": Budget(AUTH + 1, _deliveries, count=_items),  # + rows
    "/api/v1/marketing/campaigns": Budget(AUTH + 3, _campaigns),  # + count, page, variants
    "/api/v1/marketing/campaigns/<uuid:campaign_id>/messages": Budget(  # + campaign, variants, count, page
        AUTH + 4, _campaign_messages, url="CAMPAIGN_MESSAGES"
    ),
    "/api/v1/media/3d/jobs": Budget(AUTH + 2, _media_jobs("text_to_model", "tripo")),  # + page, files
    "/api/v1/media/tryon": Budget(AUTH + 2, _media_jobs("tryon", "fashn")),  # + page, files
}

# GET routes that are not lists, and why (a new GET route must be added to one or the other).
NOT_LISTS: dict[str, str] = {
    "/": "API directory generated from the URL conf at start-up",
    "/health": "probe: fixed checks, P2",
    "/ready": "probe: one migration check",
    "/live": "probe: touches nothing",
    "/metrics": "Prometheus text from the multiprocess files, no database",
    "/metrics/cache": "counters, no database",
    "/api/v1/monitoring/metrics": "aggregates from Redis request figures and a fixed set of queries",
    "/api/v1/auth/me": "one user",
    "/api/v1/agents/<slug:slug>": "one agent",
    "/api/v1/agents/<slug:slug>/stats": "one agent's aggregates",
    "/api/v1/tasks/<uuid:task_id>": "one task",
    "/api/v1/round-table/latest": "one Round Table with its entries (prefetched)",
    "/api/v1/round-table/<uuid:round_table_id>": "one Round Table with its entries (prefetched)",
    "/api/v1/orchestration/workflows/<uuid:run_id>": "one run with its steps",
    "/api/v1/commerce/products/<int:pk>": "one product",
    "/api/v1/commerce/orders/<int:pk>": "one order",
    "/api/v1/commerce/customers/<int:pk>": "one customer",
    "/api/v1/commerce/webhooks/woocommerce": "WooCommerce's delivery check, no rows",
    "/api/v1/webhooks/subscriptions/<uuid:pk>": "one subscription",
    "/api/v1/webhooks/deliveries/<uuid:pk>": "one delivery",
    "/api/v1/wordpress/themes/<uuid:theme_id>/download": "a file",
    "/api/schema/": "OpenAPI document",
    "/api/docs/": "Swagger UI page",
    "/dashboard/": "HTML page (staff), its data come from the API",
    "/api/v1/marketing/campaigns/<uuid:campaign_id>": "one campaign with its variants and results",
    "/api/v1/marketing/campaigns/<uuid:campaign_id>/results": "aggregates of one campaign's messages and orders",
    "/api/v1/media/3d/jobs/<uuid:job_id>": "one job with its files",
    "/api/v1/media/tryon/<uuid:job_id>": "one job with its files",
    "/api/v1/media/jobs/<uuid:job_id>/files/<int:file_id>": "a file",
    "/marketing/unsubscribe/<str:token>": "HTML page behind a campaign email's link",
}

_measured: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    target = os.environ.get("QUERY_BUDGET_REPORT")
    if target:
        budgets = {route: BUDGETS[route].queries for route in _measured}
        with open(target, "w", encoding="utf-8") as out:
            json.dump({"budgets": budgets, "measured": _measured, "vendor": connection.vendor}, out, indent=2)


def _cold() -> None:
    """Forget what this process remembered, as in a fresh worker (auth, agents list)."""
    from agents_app import agent_list
    from agents_app.integrations import forget_shop_status
    from devskyy.core import principal_cache
    from devskyy.core.api_keys import forget_verified

    forget_verified()
    principal_cache.forget()
    agent_list.forget()
    forget_shop_status()


def test_every_get_route_is_budgeted_or_not_a_list() -> None:
    get_routes = {r.template for r in all_routes() if "GET" in r.methods}
    unclassified = sorted(get_routes - set(BUDGETS) - set(NOT_LISTS))
    assert unclassified == [], f"GET routes with no query budget and no reason: {unclassified}"
    assert not set(BUDGETS) & set(NOT_LISTS)
    assert set(BUDGETS) <= get_routes, sorted(set(BUDGETS) - get_routes)


@pytest.mark.parametrize("route", sorted(BUDGETS))
def test_list_endpoint_reads_the_same_queries_at_two_sizes(route: str, settings: Any) -> None:
    from devskyy.core.roles import Role

    settings.RATE_LIMIT_PER_MINUTE = 10_000
    budget = BUDGETS[route]
    client = APIClient()
    # staff: the task and Round Table lists show a staff member everything
    admin = make_user(Role.ADMIN)
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    client.credentials(**bearer(access_token(admin)))
    url = budget.url or route
    counts: dict[str, int] = {}
    sizes: list[int] = []
    filled = 0
    for label, size in (("small", SMALL), ("large", LARGE)):
        budget.fill(size - filled)
        filled = size
        _cold()
        target = _campaign_messages_url() if url == "CAMPAIGN_MESSAGES" else url
        with CaptureQueriesContext(connection) as queries:
            response = client.get(target, budget.query(size))
        assert response.status_code == 200, response.content[:500]
        counts[label] = len(queries)
        sizes.append(budget.count(response.json()))
        if not budget.fixed:
            assert sizes[-1] == size, f"{route}: {sizes[-1]} items for a page of {size}"
    _measured[route] = {**counts, "small_items": sizes[0], "large_items": sizes[1]}
    assert counts == {"small": budget.queries, "large": budget.queries}, (
        f"{route}: {counts} queries (budget {budget.queries}); "
        + "; ".join(q["sql"][:160] for q in queries.captured_queries)
    )
