"""A campaign's audience is resolved against real customers: its size equals a direct
count of the matching customers, filter by filter; bad filters are refused."""

# mypy: disable-error-code="no-untyped-def"
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from agents_app.capabilities.ml import predict
from agents_app.marketing.models import Campaign
from commerce_app.models import REVENUE_STATUSES, Customer, Order, OrderItem, OrderStatus, Product
from commerce_app.services import demo_shop_seed

pytestmark = pytest.mark.django_db
# The counts run in both passes: SQLite, and PostgreSQL + Redis.
BOTH = pytest.mark.parametrize("backend", ["embedded", pytest.param("services", marks=pytest.mark.services)])

REVENUE = Q(orders__status__in=REVENUE_STATUSES)


@pytest.fixture
def people(shop):
    """Twelve customers with different consent, countries, phones and order histories."""
    ana = shop.customer("ana@example.com", first_name="Ana", country="US", phone="+15105550101")
    ben = shop.customer("ben@example.com", first_name="Ben", country="GB")
    cy = shop.customer("cy@example.com", country="US", accepts_marketing=False)
    dee = shop.customer("dee@example.com", country="DE", phone="+15105550102")
    eli = shop.customer("eli@example.com", country="US")
    fay = shop.customer("fay@example.com", country="FR", accepts_marketing=False)
    gus = shop.customer("gus@example.com", country="CA")
    for name in ("hal", "ivy", "jo", "kit", "lu"):
        shop.customer(f"{name}@example.com", country="US")
    shop.order(ana, days_ago=3, total="250.00", items=[("HOODIE-NOIR", 1)])
    shop.order(ana, days_ago=90, total="80.00", items=[("TEE-ROSE", 2)])
    shop.order(ben, days_ago=40, total="120.00", items=[("HOODIE-NOIR", 1)])
    shop.order(cy, days_ago=5, total="60.00", items=[("TEE-ROSE", 1)])
    shop.order(cy, days_ago=10, total="70.00")
    shop.order(dee, days_ago=200, total="500.00", items=[("JACKET-LOVE", 1)])
    shop.order(eli, days_ago=2, total="90.00", status=OrderStatus.CANCELLED, items=[("HOODIE-NOIR", 1)])
    shop.order(fay, days_ago=1, total="40.00", status=OrderStatus.PROCESSING)
    shop.order(gus, days_ago=15, total="35.00", status=OrderStatus.REFUNDED)
    Product.objects.filter(sku="TEE-ROSE").update(category="tees")
    Product.objects.filter(sku="JACKET-LOVE").update(category="Jackets")
    return {"ana": ana, "ben": ben, "dee": dee}


def _revenue_since(days: int) -> Exists:
    return Exists(
        Order.objects.filter(
            customer=OuterRef("pk"),
            status__in=REVENUE_STATUSES,
            placed_at__gte=timezone.now() - timedelta(days=days),
        )
    )


def _bought(**item_filter: Any) -> Exists:
    return Exists(
        OrderItem.objects.filter(order__customer=OuterRef("pk"), order__status__in=REVENUE_STATUSES, **item_filter)
    )


def _with_totals(qs: Any) -> Any:
    return qs.annotate(n=Count("orders", filter=REVENUE), spent=Sum("orders__total", filter=REVENUE))


CONSENT = Customer.objects.filter(accepts_marketing=True)
# (filter, direct count of the same customers written with the ORM, independently)
CASES: list[tuple[dict[str, Any], Callable[[dict[str, Any]], int]]] = [
    ({}, lambda p: CONSENT.count()),
    ({"accepts_marketing": False}, lambda p: Customer.objects.count()),
    ({"min_orders": 2}, lambda p: _with_totals(CONSENT).filter(n__gte=2).count()),
    ({"min_orders": 1, "accepts_marketing": False}, lambda p: _with_totals(Customer.objects).filter(n__gte=1).count()),
    ({"min_total_spent": "300"}, lambda p: _with_totals(CONSENT).filter(spent__gte=Decimal("300")).count()),
    ({"min_total_spent": 100.5}, lambda p: _with_totals(CONSENT).filter(spent__gte=Decimal("100.5")).count()),
    ({"ordered_within_days": 30}, lambda p: CONSENT.filter(_revenue_since(30)).count()),
    ({"not_ordered_within_days": 30}, lambda p: CONSENT.exclude(_revenue_since(30)).count()),
    ({"purchased_product_ids": "HOODIE-NOIR"}, lambda p: CONSENT.filter(_bought(sku="HOODIE-NOIR")).count()),
    (
        {"purchased_categories": ["TEES", "jackets"]},
        lambda p: CONSENT.filter(_bought(product__category__in=["tees", "Jackets"])).count(),
    ),
    ({"countries": ["us", "GB"]}, lambda p: CONSENT.filter(country__in=["US", "GB"]).count()),
    (
        {"countries": ["US"], "ordered_within_days": 100, "min_total_spent": "100", "accepts_marketing": False},
        lambda p: (
            _with_totals(Customer.objects.filter(country="US", pk__in=Customer.objects.filter(_revenue_since(100))))
            .filter(spent__gte=100)
            .count()
        ),
    ),
]


@BOTH
@pytest.mark.parametrize(("audience", "direct"), CASES, ids=[str(c[0]) for c in CASES])
def test_audience_size_equals_a_direct_count_of_matching_customers(
    backend, api, people, shop, audience, direct
) -> None:
    if audience.get("purchased_product_ids") == "HOODIE-NOIR":
        audience = {"purchased_product_ids": [shop.product("HOODIE-NOIR").pk]}
    expected = direct(people)
    response = api.post(
        "/api/v1/marketing/audience/preview", {"target_audience": audience, "sample": 50}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["size"] == expected
    assert len(body["sample"]) == expected
    if audience.get("accepts_marketing", True):
        assert all(row["accepts_marketing"] for row in body["sample"])


def test_the_audience_filters_match_who_they_should(api, people) -> None:
    """Spot checks by name, so a wrong count cannot hide behind an equally wrong query."""

    def emails(audience: dict[str, Any]) -> set[str]:
        body = api.post(
            "/api/v1/marketing/audience/preview", {"target_audience": audience, "sample": 50}, format="json"
        )
        return {row["email"] for row in body.json()["sample"]}

    assert emails({"min_orders": 2}) == {"ana@example.com"}  # cy has two orders but no consent
    assert emails({"min_orders": 2, "accepts_marketing": False}) == {"ana@example.com", "cy@example.com"}
    assert emails({"ordered_within_days": 30, "accepts_marketing": False}) == {
        "ana@example.com",
        "cy@example.com",
        "fay@example.com",  # processing counts; eli's cancelled and gus's refunded orders do not
    }
    assert emails({"min_total_spent": "250"}) == {"ana@example.com", "dee@example.com"}
    assert emails({"purchased_categories": ["jackets"]}) == {"dee@example.com"}
    assert emails({"countries": ["gb"]}) == {"ben@example.com"}


def test_a_campaigns_audience_size_is_the_count_when_it_was_created(api, people, llm, queue) -> None:
    response = api.post(
        "/api/v1/marketing/campaigns",
        {
            "campaign_type": "email",
            "target_audience": {"min_orders": 1},
            "content_template": "Spring drop for {first_name}",
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    expected = _with_totals(CONSENT).filter(n__gte=1).count()
    assert response.json()["audience_size"] == expected == Campaign.objects.get().audience_size


def test_a_segment_audience_is_the_customers_the_rfm_segmentation_puts_there(api, db) -> None:
    demo_shop_seed()
    segments = predict(model_type="customer_segmentation", data=None, parameters={"segments": 4})["predictions"][
        "segments"
    ]
    sizes: dict[str, int] = {}
    for segment in segments:
        sizes[segment["segment"]] = sizes.get(segment["segment"], 0) + segment["size"]
    for name, size in sizes.items():
        body = api.post(
            "/api/v1/marketing/audience/preview",
            {"target_audience": {"segment": name, "accepts_marketing": False}},
            format="json",
        ).json()
        assert body["size"] == size, name
    # With consent (the default) the audience is the consenting part of those segments.
    both = sorted(sizes)[:2]
    consenting = api.post(
        "/api/v1/marketing/audience/preview", {"target_audience": {"segment": both}}, format="json"
    ).json()["size"]
    assert 0 < consenting < sizes[both[0]] + sizes[both[1]]


@pytest.mark.parametrize(
    ("audience", "path"),
    [
        ({"segmnet": "champions"}, "/target_audience"),
        ({"segment": "whales"}, "/target_audience/segment"),
        ({"min_orders": -1}, "/target_audience/min_orders"),
        ({"min_total_spent": "12.345"}, "/target_audience/min_total_spent"),
        ({"countries": ["USA"]}, "/target_audience/countries/0"),
        ({"accepts_marketing": "yes"}, "/target_audience/accepts_marketing"),
        ({"ordered_within_days": 10, "not_ordered_within_days": 30}, "/target_audience/not_ordered_within_days"),
    ],
)
def test_a_bad_audience_filter_is_refused_with_the_reason(api, people, audience, path) -> None:
    response = api.post("/api/v1/marketing/audience/preview", {"target_audience": audience}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_audience"
    assert path in [e["path"] for e in error["details"]["errors"]]


def test_a_segment_audience_on_a_shop_with_too_few_customers_is_422(api, people) -> None:
    response = api.post(
        "/api/v1/marketing/audience/preview", {"target_audience": {"segment": "champions"}}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_data"


def test_read_only_users_cannot_preview_but_may_read_campaigns(people) -> None:
    from rest_framework.test import APIClient

    from devskyy.core.roles import Role
    from tests.support.auth import make_user

    client = APIClient()
    client.force_authenticate(make_user(Role.READ_ONLY))
    assert client.post("/api/v1/marketing/audience/preview", {"target_audience": {}}, format="json").status_code == 403
    assert client.get("/api/v1/marketing/campaigns").status_code == 200
