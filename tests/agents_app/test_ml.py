"""The ML models: answers follow the data, and too few data are said so."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from agents_app.capabilities.ml import InsufficientDataError, InvalidPredictionInputError, predict
from agents_app.capabilities.ml_models import kmeans
from commerce_app.models import Customer, Order, OrderItem, OrderStatus, Product
from commerce_app.pricing import price_optimize
from commerce_app.services import demo_shop_seed


def _series(sku: str, values: list) -> dict:
    return {"series": [{"sku": sku, "history": values}]}


def test_demand_forecast_follows_the_history_and_its_intervals_hold_the_forecast() -> None:
    rising = [10 + 2 * i + (i % 3) for i in range(20)]
    flat = [30 + (i % 3) for i in range(20)]
    up = predict(model_type="demand_forecasting", data=_series("A", rising))["predictions"][0]
    level = predict(model_type="demand_forecasting", data=_series("A", flat))["predictions"][0]
    assert up["status"] == "ok"
    assert up["fit"]["trend_per_period"] > 1.5
    assert abs(level["fit"]["trend_per_period"]) < 0.5
    assert up["forecast"][-1]["units"] > rising[-1]
    assert 28 < level["forecast"][0]["units"] < 33
    for point in up["forecast"]:
        assert point["lower"] <= point["units"] <= point["upper"]
    widths = [p["upper"] - p["lower"] for p in up["forecast"]]
    assert widths == sorted(widths)
    narrow = predict(model_type="demand_forecasting", data=_series("A", rising), confidence_threshold=0.5)
    wide = predict(model_type="demand_forecasting", data=_series("A", rising), confidence_threshold=0.95)
    n0, w0 = narrow["predictions"][0]["forecast"][0], wide["predictions"][0]["forecast"][0]
    assert (w0["upper"] - w0["lower"]) > (n0["upper"] - n0["lower"])


def test_short_series_are_reported_insufficient_among_good_ones() -> None:
    data = {"series": [{"sku": "OK", "history": [5, 6, 7, 6, 8, 9, 8, 10, 11]}, {"sku": "NEW", "history": [0, 0, 4]}]}
    result = predict(model_type="demand_forecasting", data=data)
    statuses = {p["sku"]: p["status"] for p in result["predictions"]}
    assert statuses == {"OK": "ok", "NEW": "insufficient_data"}
    assert result["data_volume"] == {"series": 2, "periods": 12, "units": 74.0}
    with pytest.raises(InsufficientDataError):
        predict(model_type="demand_forecasting", data={"series": [{"sku": "NEW", "history": [0, 0, 4]}]})


@pytest.mark.django_db
def test_shop_demand_forecast_changes_when_orders_change() -> None:
    now = timezone.now()
    demo_shop_seed(now=now)
    top = predict(model_type="demand_forecasting", parameters={"limit": 3}, now=now)
    assert top["data_source"] == "shop"
    assert top["data_volume"]["series"] == 3
    sku = top["predictions"][0]["sku"]
    before = predict(model_type="demand_forecasting", parameters={"skus": [sku]}, now=now)["predictions"][0]
    product = Product.objects.get(sku=sku)
    customer = Customer.objects.first()
    for week in range(1, 4):  # a burst of sales in the last whole weeks
        order = Order.objects.create(
            number=f"T-{week}",
            customer=customer,
            status=OrderStatus.COMPLETED,
            subtotal=Decimal("100.00"),
            total=Decimal("100.00"),
            placed_at=now - timedelta(days=now.weekday() + 7 * week - 2),
        )
        OrderItem.objects.create(order=order, product=product, sku=sku, quantity=40, unit_price=product.price)
    after = predict(model_type="demand_forecasting", parameters={"skus": [sku]}, now=now)["predictions"][0]
    assert after["units_observed"] == before["units_observed"] + 120
    assert after["expected_units"] > before["expected_units"]
    assert after["stock"] == product.stock
    assert "period_start" in after["forecast"][0]


def test_kmeans_separates_clear_groups() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 0.1, (30, 2)), rng.normal(5, 0.1, (20, 2))])
    labels, centers = kmeans(x, 2)
    assert sorted(np.bincount(labels).tolist()) == [20, 30]
    assert sorted(np.round(centers[:, 0]).tolist()) == [0.0, 5.0]


def _customers(groups: list[tuple[int, float, int, float]]) -> dict:
    customers = []
    for index, (count, recency, frequency, monetary) in enumerate(groups):
        for i in range(count):
            customers.append(
                {
                    "id": f"g{index}-{i}",
                    "recency_days": recency + i % 3,
                    "frequency": frequency,
                    "monetary": monetary + i,
                }
            )
    return {"customers": customers}


def test_segmentation_sizes_and_descriptions_follow_the_data() -> None:
    data = _customers([(12, 5, 9, 2000), (18, 300, 1, 40)])
    result = predict(model_type="customer_segmentation", data=data, parameters={"segments": 2})
    segments = result["predictions"]["segments"]
    assert [s["size"] for s in segments] == [12, 18]
    assert segments[0]["segment"].startswith("champions")
    assert segments[1]["segment"].startswith("hibernating")
    assert "12 customers" in segments[0]["description"]
    moved = predict(
        model_type="customer_segmentation",
        data=_customers([(25, 5, 9, 2000), (5, 300, 1, 40)]),
        parameters={"segments": 2},
    )
    assert [s["size"] for s in moved["predictions"]["segments"]] == [25, 5]
    with pytest.raises(InsufficientDataError):
        predict(model_type="customer_segmentation", data=_customers([(6, 5, 2, 100)]), parameters={"segments": 2})


@pytest.mark.django_db
def test_shop_segmentation_covers_every_customer_with_a_paid_order() -> None:
    demo_shop_seed()
    result = predict(model_type="customer_segmentation")
    paying = Customer.objects.filter(orders__status__in=[OrderStatus.COMPLETED, OrderStatus.PROCESSING]).distinct()
    assert result["data_volume"]["customers"] == paying.count()
    assert sum(s["size"] for s in result["predictions"]["segments"]) == paying.count()


def _pricing_data(elasticity: float, cost: float = 20.0) -> dict:
    observations = []
    for price in (40.0, 44.0, 48.0, 52.0, 56.0, 60.0):
        for noise in (0.97, 1.03):
            observations.append({"price": price, "units": 1000 * price**elasticity * noise * 50})
    return {"products": [{"sku": "P1", "price": 50, "cost": cost, "observations": observations}]}


def test_pricing_estimates_elasticity_and_recommends_within_bounds() -> None:
    elastic = predict(model_type="dynamic_pricing", data=_pricing_data(-2.0))["predictions"][0]
    assert elastic["elasticity"] == pytest.approx(-2.0, abs=0.1)
    assert elastic["significant"] is True
    # Constant-elasticity optimum: 20 * (-2) / (-1) = 40, inside [35, 57.5].
    assert Decimal(elastic["recommended_price"]) == pytest.approx(Decimal("40.00"), abs=Decimal("2.5"))
    assert elastic["action"] == "lower"
    inelastic = predict(model_type="dynamic_pricing", data=_pricing_data(-0.5))["predictions"][0]
    assert inelastic["action"] == "raise"
    assert inelastic["recommended_price"] == Decimal("57.50")


@pytest.mark.django_db
def test_pricing_on_a_shop_that_never_changed_a_price_is_insufficient() -> None:
    demo_shop_seed()
    with pytest.raises(InsufficientDataError) as caught:
        predict(model_type="dynamic_pricing", parameters={"limit": 5})
    assert caught.value.details["data_volume"]["products"] == 5


@pytest.mark.django_db
def test_pricing_on_the_shop_uses_the_commerce_pricing_service() -> None:
    now = timezone.now()
    product = Product.objects.create(
        sku="ELASTIC", name="Elastic Tee", price=Decimal("100.00"), cost=Decimal("40.00"), stock=500, category="tops"
    )
    for week in range(12):  # a 20% lower price sold five times as much: elastic demand
        price, units = (Decimal("80.00"), 30) if week % 2 else (Decimal("100.00"), 6)
        order = Order.objects.create(
            number=f"P-{week}",
            status=OrderStatus.COMPLETED,
            subtotal=price * units,
            total=price * units,
            placed_at=now - timedelta(weeks=week, days=1),
        )
        OrderItem.objects.create(order=order, product=product, sku=product.sku, quantity=units, unit_price=price)

    answer = predict(model_type="dynamic_pricing", parameters={"skus": ["ELASTIC"], "min_margin": 0.2}, now=now)
    service = price_optimize(
        product_ids=[product.pk],
        strategy="ml_optimized",
        min_margin=Decimal("0.2"),
        max_discount=Decimal("0.3"),
        history_days=7 * 52,
        now=now,
    )["results"][0]

    assert answer["data_source"] == "shop"
    assert answer["model"]["name"] == "shrunk_log_log_price_elasticity"
    prediction = answer["predictions"][0]
    assert prediction["elasticity_source"] == "product"
    assert prediction["elasticity"] == service["elasticity"] < -1.5
    assert prediction["recommended_price"] == service["recommended_price"] < Decimal("100.00")
    assert answer["data_volume"] == {"products": 1, "weeks_with_sales": 12}


def test_trend_direction_follows_the_series() -> None:
    data = {
        "series": [
            {"group": "hoodies", "units": [10, 12, 15, 17, 20, 22, 25, 27]},
            {"group": "tees", "units": [30, 28, 25, 22, 20, 17, 15, 12]},
            {"group": "hats", "units": [5, 7, 5, 7, 5, 7, 5, 7]},
            {"group": "new", "units": [3, 4]},
        ]
    }
    result = {r["group"]: r for r in predict(model_type="trend_prediction", data=data)["predictions"]}
    assert result["hoodies"]["direction"] == "rising"
    assert result["tees"]["direction"] == "falling"
    assert result["hats"]["direction"] == "steady"
    assert result["new"]["status"] == "insufficient_data"
    assert result["hoodies"]["velocity_recent"] == pytest.approx(23.5)


@pytest.mark.django_db
def test_shop_trends_by_collection() -> None:
    demo_shop_seed()
    result = predict(model_type="trend_prediction", parameters={"group_by": "collection", "weeks": 12})
    groups = {r["group"] for r in result["predictions"]}
    assert groups == set(Product.objects.values_list("collection", flat=True))
    assert result["data_volume"]["periods"] == 12 * len(groups)


def test_sentiment_needs_texts_and_unknown_models_are_refused() -> None:
    with pytest.raises(InvalidPredictionInputError):
        predict(model_type="sentiment_analysis")
    with pytest.raises(InvalidPredictionInputError):
        predict(model_type="horoscope")
    negative = predict(model_type="sentiment_analysis", data={"texts": ["awful, broken, refund please"]})
    positive = predict(model_type="sentiment_analysis", data={"texts": ["great quality, love it"]})
    assert negative["predictions"]["summary"]["mean_compound"] < 0 < positive["predictions"]["summary"]["mean_compound"]
