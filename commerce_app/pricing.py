"""Price recommendations from cost, stock and the order history (read-only).

The model (also in the README):

* **Demand curve**: constant elasticity, ``units = a * price ** e``. ``e`` is estimated
  per product by least squares of log weekly units on log weekly average selling
  price over the last 365 days (weeks with sales, revenue statuses only).
* **Shrinkage**: a product's estimate is combined with its category's estimate (all
  products of the category, each product's prices and units centred on its own mean),
  which is itself combined with a prior of -1.5 (typical for apparel) with precision 1.
  Each combination weighs the estimates by precision (``Sxx / residual variance`` for
  data): a product whose price never changed has no price information and takes its
  category's value; one with much price variation speaks for itself. ``e`` is kept
  within [-6, -0.2].
* **Strategies** (``p0`` current price, ``c`` cost, ``d`` daily units):
  ``ml_optimized`` the profit-maximising price ``c * e / (1 + e)`` (when ``e < -1``;
  inelastic demand moves towards the upper bound); ``demand_based`` the price that sells
  the stock in 60 days, ``p0 * (stock / 60 / d_90) ** (1 / e)``; ``time_based`` follows
  momentum, ``p0 * (d_30 / d_365) ** (-1 / e)``; ``competitive`` the median price of
  the active products of the same category in this catalog (DevSkyy has no competitor
  price feed; the result says so).
* **Constraints, always**: price >= ``cost / (1 - min_margin)`` and
  >= ``p0 * (1 - max_discount)`` (rounded up to the cent), and <= ``p0 * 1.25``
  unless a constraint needs more. Unknown product ids are reported, never invented.
* **Confidence** in [0, 1]: 0.6 x the weight of the product's own data in its elasticity
  + 0.4 x min(1, weeks with sales / 26).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from commerce_app.models import REVENUE_STATUSES, OrderItem, Product, ProductStatus
from devskyy.core.errors import DomainError

STRATEGIES = ("competitive", "demand_based", "ml_optimized", "time_based")
PRIOR_ELASTICITY = -1.5
PRIOR_PRECISION = 1.0
MIN_ELASTICITY, MAX_ELASTICITY = -6.0, -0.2
MAX_INCREASE = Decimal("0.25")
TARGET_COVER_DAYS = 60
CENT = Decimal("0.01")
_MONEY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=2)


@dataclass(frozen=True)
class Estimate:
    value: float
    precision: float
    weeks: int


def _fit(points: Sequence[tuple[float, float]]) -> Estimate | None:
    """Slope of y on x with its precision (Sxx / residual variance); None without price variation."""
    n = len(points)
    if n < 3:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx < 1e-6:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in points)
    variance = max(residual / max(n - 2, 1), 0.05)
    return Estimate(slope, sxx / variance, n)


def _combine(prior: float, prior_precision: float, data: Estimate | None) -> tuple[float, float, float]:
    """Posterior mean, posterior precision and the data's weight in it."""
    if data is None:
        return prior, prior_precision, 0.0
    total = prior_precision + data.precision
    return (prior * prior_precision + data.value * data.precision) / total, total, data.precision / total


def _ceil(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_CEILING)


def price_optimize(
    *,
    product_ids: Sequence[int],
    strategy: str,
    min_margin: Decimal,
    max_discount: Decimal,
    max_increase: Decimal = MAX_INCREASE,
    history_days: int = 365,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Recommendations for ``product_ids`` (see the module docstring).

    Each result says where its elasticity came from (``elasticity_source``: the product's
    own price history, its category's, or only the prior), so callers can tell a
    data-driven recommendation from one that rests on the prior alone.
    """
    if strategy not in STRATEGIES:
        raise DomainError(f"Unknown strategy {strategy!r}.", code="invalid_strategy")
    if not Decimal(0) <= min_margin < Decimal(1):
        raise DomainError("min_margin must be within [0, 1).", code="invalid_constraints")
    if not Decimal(0) <= max_discount <= Decimal("0.9"):
        raise DomainError("max_discount must be within [0, 0.9].", code="invalid_constraints")
    if not Decimal(0) <= max_increase <= Decimal(1):
        raise DomainError("max_increase must be within [0, 1].", code="invalid_constraints")
    if not 7 <= history_days <= 3650:
        raise DomainError("history_days must be within [7, 3650].", code="invalid_constraints")
    now = now or timezone.now()
    since = now - timedelta(days=history_days)
    products = {p.pk: p for p in Product.objects.filter(pk__in=list(product_ids))}
    unknown = [pid for pid in product_ids if pid not in products]
    categories = {p.category for p in products.values()}
    peers = list(
        Product.objects.filter(category__in=categories, status=ProductStatus.ACTIVE).values_list(
            "id", "category", "price"
        )
    )
    category_of = {pid: cat for pid, cat, _ in peers} | {p.pk: p.category for p in products.values()}
    rows = (
        OrderItem.objects.filter(
            product_id__in=list(category_of),
            order__status__in=REVENUE_STATUSES,
            order__placed_at__gte=since,
            order__placed_at__lte=now,
        )
        .annotate(week=TruncWeek("order__placed_at"))
        .values("product_id", "week")
        .annotate(
            units=Sum("quantity"),
            revenue=Sum(ExpressionWrapper(F("quantity") * F("unit_price"), output_field=_MONEY)),
        )
    )
    weekly: dict[int, list[tuple[datetime, int, Decimal]]] = defaultdict(list)
    for row in rows:
        if row["units"]:
            weekly[row["product_id"]].append((row["week"], int(row["units"]), row["revenue"]))
    points = {
        pid: [(math.log(float(rev) / units), math.log(units)) for _, units, rev in data if rev > 0]
        for pid, data in weekly.items()
    }
    # Category estimates: each product's observations centred on its own means.
    category_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for pid, pts in points.items():
        if len(pts) >= 2:
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            category_points[category_of[pid]].extend((x - mx, y - my) for x, y in pts)
    category_fits = {cat: _fit(pts) for cat, pts in category_points.items()}
    category_prior = {
        cat: _combine(PRIOR_ELASTICITY, PRIOR_PRECISION, fit)[:2] for cat, fit in category_fits.items() if fit
    }
    results = []
    for pid in product_ids:
        product = products.get(pid)
        if product is None:
            continue
        category_estimate = category_prior.get(product.category)
        prior, prior_precision = category_estimate or (PRIOR_ELASTICITY, PRIOR_PRECISION)
        own = _fit(points.get(pid, []))
        elasticity, _, weight = _combine(prior, prior_precision, own)
        source = "product" if own is not None else "category" if category_estimate is not None else "prior"
        elasticity = min(MAX_ELASTICITY, max(MIN_ELASTICITY, elasticity))
        peer_prices = [price for other, cat, price in peers if cat == product.category and other != pid]
        results.append(
            _recommend(
                product,
                strategy=strategy,
                elasticity=elasticity,
                data_weight=weight,
                history=weekly.get(pid, []),
                peer_prices=peer_prices,
                now=now,
                min_margin=min_margin,
                max_discount=max_discount,
                max_increase=max_increase,
            )
            | {"elasticity_source": source}
        )
    return {
        "strategy": strategy,
        "constraints": {"min_margin": min_margin, "max_discount": max_discount},
        "results": results,
        "unknown_product_ids": unknown,
    }


def _units_since(history: list[tuple[datetime, int, Decimal]], since: datetime) -> int:
    # Weeks are truncated to Monday: a week counts when it started within the window.
    return sum(units for week, units, _ in history if week >= since)


def _recommend(
    product: Product,
    *,
    strategy: str,
    elasticity: float,
    data_weight: float,
    history: list[tuple[datetime, int, Decimal]],
    peer_prices: list[Decimal],
    now: datetime,
    min_margin: Decimal,
    max_discount: Decimal,
    max_increase: Decimal,
) -> dict[str, Any]:
    p0, cost, e = product.price, product.cost, elasticity
    d90 = _units_since(history, now - timedelta(days=90)) / 90
    d30 = _units_since(history, now - timedelta(days=30)) / 30
    d365 = sum(units for _, units, _ in history) / 365
    notes: list[str] = []
    target: float | Decimal
    if p0 <= 0:
        target = p0
        notes.append("current price is zero: no reference to move from")
    elif strategy == "ml_optimized":
        if cost <= 0:
            target = p0
            notes.append("cost unknown (0): profit-maximising price undefined, kept current")
        elif e < -1:
            target = float(cost) * e / (1 + e)
        else:
            target = float(p0) * 10  # inelastic: profit rises with price up to the upper bound
            notes.append("demand estimated inelastic: moved to the upper bound")
    elif strategy == "demand_based":
        if product.stock == 0:
            target = p0
            notes.append("no stock to sell: kept current")
        elif d90 == 0:
            target = Decimal(0)
            notes.append("no sales in 90 days: as low as constraints allow")
        else:
            needed = product.stock / TARGET_COVER_DAYS
            target = float(p0) * (needed / d90) ** (1 / e)
    elif strategy == "time_based":
        if d365 == 0 or d30 == 0:
            target = p0 if d365 == 0 else Decimal(0)
            notes.append("no sales history" if d365 == 0 else "no sales in 30 days: as low as constraints allow")
        else:
            target = float(p0) * (d30 / d365) ** (-1 / e)
    else:  # competitive
        notes.append("reference: median price of active products in the same category of this catalog")
        target = statistics.median(peer_prices) if peer_prices else p0
        if not peer_prices:
            notes.append("no category peers: kept current")
    raw = Decimal(str(target)) if not isinstance(target, Decimal) else target
    margin_floor = _ceil(cost / (1 - min_margin)) if cost > 0 else Decimal("0.00")
    discount_floor = _ceil(p0 * (1 - max_discount))
    lower = max(margin_floor, discount_floor)
    upper = (p0 * (1 + max_increase)).quantize(CENT, rounding=ROUND_FLOOR)
    price = raw.quantize(CENT, rounding=ROUND_HALF_UP)
    if price > upper:
        price = upper
    if price < lower:
        price = lower
        if lower > upper:
            notes.append("current price is below the constraints: raised to meet them")
    binding = "min_margin" if price == margin_floor and margin_floor >= discount_floor else None
    if price == discount_floor and discount_floor > margin_floor:
        binding = "max_discount"
    if price == upper and lower <= upper:
        binding = "max_increase"
    ratio = float(price / p0) if p0 > 0 else 1.0
    expected_daily = d90 * ratio**e if d90 else 0.0
    return {
        "product_id": product.pk,
        "sku": product.sku,
        "current_price": p0,
        "recommended_price": price,
        "change_pct": ((price - p0) / p0 * 100).quantize(Decimal("0.1")) if p0 > 0 else None,
        "cost": cost,
        "margin": ((price - cost) / price).quantize(Decimal("0.0001")) if price > 0 else None,
        "stock": product.stock,
        "elasticity": round(e, 3),
        "confidence": round(0.6 * data_weight + 0.4 * min(1.0, len(history) / 26), 2),
        "weeks_with_sales": len(history),
        "units_sold_90d": round(d90 * 90),
        "expected_daily_units": round(expected_daily, 3),
        "expected_daily_profit": round((float(price) - float(cost)) * expected_daily, 2),
        "current_daily_profit": round((float(p0) - float(cost)) * d90, 2),
        "binding_constraint": binding,
        "notes": notes,
    }
