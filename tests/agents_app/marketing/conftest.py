"""Fixtures for campaign tests: a small real shop, the loopback LLM server, a task
queue that runs agent tasks and campaign sends on the test's thread, and outbound
webhook events recorded as they are emitted."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents_app.services.execution import task_execute
from commerce_app.models import Customer, Order, OrderItem, OrderStatus, Product
from devskyy.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.agents_app.llm.conftest import _clean_llm_state, providers, servers  # noqa: F401 - fixtures
from tests.support.llm_servers import FakeLLMServer, openai_text

_numbers = itertools.count(1)


@dataclass
class Shop:
    """Helpers to build customers with orders (real rows)."""

    products: dict[str, Product] = field(default_factory=dict)

    def product(self, sku: str, category: str = "hoodies", price: str = "100.00") -> Product:
        if sku not in self.products:
            self.products[sku] = Product.objects.create(
                sku=sku, name=sku.title(), category=category, price=Decimal(price), cost=Decimal("30.00"), stock=10
            )
        return self.products[sku]

    def customer(
        self,
        email: str,
        *,
        first_name: str = "",
        last_name: str = "",
        country: str = "US",
        phone: str = "",
        accepts_marketing: bool = True,
    ) -> Customer:
        return Customer.objects.create(
            email=email,
            first_name=first_name,
            last_name=last_name,
            country=country,
            phone=phone,
            accepts_marketing=accepts_marketing,
        )

    def order(
        self,
        customer: Customer,
        *,
        days_ago: float = 0,
        at: datetime | None = None,
        total: str = "100.00",
        status: str = OrderStatus.COMPLETED,
        items: list[tuple[str, int]] | None = None,
    ) -> Order:
        placed = at or timezone.now() - timedelta(days=days_ago)
        order = Order.objects.create(
            number=f"T{next(_numbers):06d}",
            customer=customer,
            status=status,
            subtotal=Decimal(total),
            total=Decimal(total),
            placed_at=placed,
        )
        for sku, qty in items or []:
            product = self.product(sku)
            OrderItem.objects.create(
                order=order, product=product, sku=sku, name=product.name, quantity=qty, unit_price=product.price
            )
        return order


@pytest.fixture
def shop(db: Any) -> Shop:
    return Shop()


@dataclass
class Queue:
    """Background work collected instead of sent; ``drain()`` runs it here, in order:
    agent tasks through the real ``task_execute``, other tasks (campaign sends) by
    calling them, each with its on-commit callbacks run as a worker's would be."""

    capture: Callable[..., Any]
    pending: list[tuple[Any, tuple[Any, ...]]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def dispatch(self, task: Any, *args: Any, **kwargs: Any) -> None:
        self.pending.append((task, args))
        self.names.append(task.name)

    def drain(self, limit: int = 100) -> list[Any]:
        results = []
        while self.pending and limit:
            task, args = self.pending.pop(0)
            limit -= 1
            with self.capture(execute=True):
                if task.name == "agents_app.tasks.run_agent_task":
                    results.append(task_execute(task_id=str(args[0]), worker="test-worker"))
                else:
                    results.append(task(*args))
        return results


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any) -> Queue:
    from devskyy.core import background

    q = Queue(django_capture_on_commit_callbacks)
    monkeypatch.setattr(background, "dispatch_now", q.dispatch)
    return q


@pytest.fixture
def events(db: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[tuple[str, dict[str, Any]]]]:
    """Subscribe to campaign.* and return the (type, data) of each event emitted, in order.
    Deliveries are not attempted (the subscription's receiver is not the subject here)."""
    from devskyy.webhooks import services as webhook_services

    WebhookSubscription.objects.create(
        name="campaign events",
        url="https://hooks.example.com/devskyy",
        event_types=["campaign.scheduled", "campaign.sent", "campaign.completed"],
        secret="whsec-test-secret-0123456789",
    )
    monkeypatch.setattr(webhook_services, "delivery_schedule", lambda **kwargs: None)

    def emitted() -> list[tuple[str, dict[str, Any]]]:
        rows = WebhookDelivery.objects.order_by("created_at", "event_type")
        return [(row.event_type, row.payload["data"]) for row in rows]

    return emitted


@pytest.fixture
def llm(servers: Callable[..., FakeLLMServer], providers: Callable[..., None], catalog: None) -> FakeLLMServer:  # noqa: F811
    """One OpenAI-compatible provider on loopback, enabled; the only provider (catalog seeded)."""
    server = servers("openai")
    providers(openai=server)
    return server


def email_copy(subject: str, body: str) -> Any:
    return openai_text(f"SUBJECT: {subject}\nEMAIL:\n{body}", prompt_tokens=300, completion_tokens=120)


def multi_copy(subject: str, email: str, sms: str, social: str) -> Any:
    return openai_text(
        f"SUBJECT: {subject}\nEMAIL:\n{email}\nSMS:\n{sms}\nSOCIAL:\n{social}", prompt_tokens=400, completion_tokens=200
    )
