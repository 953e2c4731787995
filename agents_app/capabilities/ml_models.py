"""The numeric models behind ``agents_app.capabilities.ml.predict`` (numpy).

Imported on the first prediction only: numpy costs every process ~20 MB of memory
(PERF P6). Model descriptions are in ``ml``'s docstring.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
from django.db.models import Sum
from django.db.models.functions import TruncWeek

from agents_app.capabilities.ml import (
    _SEGMENT_NAMES,
    CENT,
    DEFAULT_SEGMENTS,
    MIN_DEMAND_SALE_WEEKS,
    MIN_DEMAND_WEEKS,
    MIN_PRICE_OBSERVATIONS,
    MIN_PRICE_POINTS,
    MIN_TREND_WEEKS,
    InsufficientDataError,
    InvalidPredictionInputError,
)
from commerce_app import selectors as shop
from commerce_app.models import REVENUE_STATUSES, OrderItem, Product, ProductStatus
from commerce_app.pricing import price_optimize


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf((1 + confidence) / 2)


def _r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def _whole_weeks(now: datetime, weeks: int) -> tuple[datetime, list[datetime]]:
    """The Mondays (UTC) of the last ``weeks`` whole weeks; the current partial week is left out."""
    today = now.astimezone(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=weeks)
    mondays = [datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(weeks=i) for i in range(weeks)]
    return mondays[0], mondays


def _weekly_units_by(
    field: str, *, since: datetime, until: datetime, keys: list[str] | None = None
) -> dict[str, dict[datetime, float]]:
    qs = OrderItem.objects.filter(
        order__status__in=REVENUE_STATUSES, order__placed_at__gte=since, order__placed_at__lt=until
    )
    if keys is not None:
        qs = qs.filter(**{f"{field}__in": keys})
    rows = qs.annotate(week=TruncWeek("order__placed_at")).values(field, "week").annotate(units=Sum("quantity"))
    result: dict[str, dict[datetime, float]] = defaultdict(dict)
    for row in rows:
        if row[field]:
            result[row[field]][row["week"].astimezone(UTC)] = float(row["units"])
    return result


# --- demand forecasting -----------------------------------------------------------------------
@dataclass(frozen=True)
class HoltFit:
    alpha: float
    beta: float
    level: float
    trend: float
    sigma: float
    mae: float


_ALPHAS = tuple(round(0.1 * i, 1) for i in range(1, 10))
_BETAS = (0.05, 0.1, 0.2, 0.3, 0.5)


def holt_fit(y: np.ndarray) -> HoltFit:
    """Holt's linear method; parameters by grid search on one-step-ahead squared error."""
    best: tuple[float, HoltFit] | None = None
    for alpha in _ALPHAS:
        for beta in _BETAS:
            level, trend = float(y[0]), float(y[1] - y[0])
            errors = []
            for t in range(2, len(y)):
                forecast = level + trend
                errors.append(float(y[t]) - forecast)
                new_level = alpha * float(y[t]) + (1 - alpha) * forecast
                trend = beta * (new_level - level) + (1 - beta) * trend
                level = new_level
            residuals = np.array(errors)
            sse = float(np.sum(residuals**2))
            dof = max(1, len(residuals) - 2)
            fit = HoltFit(alpha, beta, level, trend, math.sqrt(sse / dof), float(np.mean(np.abs(residuals))))
            if best is None or sse < best[0]:
                best = (sse, fit)
    if best is None:  # pragma: no cover - callers pass at least MIN_DEMAND_WEEKS points
        raise InsufficientDataError("Series too short.")
    return best[1]


def _forecast_series(sku: str, history: list[float], horizon: int, z: float) -> dict[str, Any]:
    y = np.array(history, dtype=float)
    sale_weeks = int(np.count_nonzero(y))
    if len(y) < MIN_DEMAND_WEEKS or sale_weeks < MIN_DEMAND_SALE_WEEKS:
        return {
            "sku": sku,
            "status": "insufficient_data",
            "reason": f"needs at least {MIN_DEMAND_WEEKS} periods with sales in at least {MIN_DEMAND_SALE_WEEKS}; "
            f"got {len(y)} periods, {sale_weeks} with sales",
            "periods_used": len(y),
        }
    fit = holt_fit(y)
    points = []
    for h in range(1, horizon + 1):
        mean = fit.level + h * fit.trend
        factor = 1 + sum(fit.alpha**2 * (1 + j * fit.beta) ** 2 for j in range(1, h))
        half = z * fit.sigma * math.sqrt(factor)
        points.append(
            {
                "step": h,
                "units": _r(max(0.0, mean), 2),
                "lower": _r(max(0.0, mean - half), 2),
                "upper": _r(max(0.0, mean + half), 2),
            }
        )
    return {
        "sku": sku,
        "status": "ok",
        "periods_used": len(y),
        "units_observed": _r(float(y.sum()), 2),
        "fit": {
            "alpha": fit.alpha,
            "beta": fit.beta,
            "level": _r(fit.level),
            "trend_per_period": _r(fit.trend),
            "residual_sd": _r(fit.sigma),
            "one_step_mae": _r(fit.mae),
        },
        "forecast": points,
        "expected_units": _r(sum(p["units"] for p in points), 2),
    }


def _demand(data: dict[str, Any] | None, params: dict[str, Any], confidence: float, now: datetime) -> dict[str, Any]:
    horizon = params.get("horizon_weeks", 4)
    z = _z(confidence)
    period_starts: list[str] | None = None
    stock: dict[str, int] = {}
    if data is not None:
        series = [(item["sku"], [float(v) for v in item["history"]]) for item in data["series"]]
    else:
        weeks = params.get("history_weeks", 26)
        since, mondays = _whole_weeks(now, weeks)
        until = mondays[-1] + timedelta(weeks=1)
        by_sku = _weekly_units_by("sku", since=since, until=until, keys=params.get("skus"))
        if params.get("skus"):
            skus = list(params["skus"])
        else:
            ranked = sorted(by_sku.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
            skus = [sku for sku, _ in ranked[: params.get("limit", 20)]]
        series = [(sku, [by_sku.get(sku, {}).get(monday, 0.0) for monday in mondays]) for sku in skus]
        stock = dict(Product.objects.filter(sku__in=skus).values_list("sku", "stock"))
        period_starts = [(until + timedelta(weeks=i)).date().isoformat() for i in range(horizon)]
    results = [_forecast_series(sku, history, horizon, z) for sku, history in series]
    for result in results:
        if result["sku"] in stock:
            result["stock"] = stock[result["sku"]]
            if result["status"] == "ok":
                # Cover the upper bound of the interval over the horizon.
                covered = math.ceil(sum(p["upper"] for p in result["forecast"]))
                result["reorder_units"] = max(0, covered - stock[result["sku"]])
        if period_starts and result["status"] == "ok":
            for point, start in zip(result["forecast"], period_starts, strict=True):
                point["period_start"] = start
    volume = {
        "series": len(series),
        "periods": sum(len(h) for _, h in series),
        "units": _r(sum(sum(h) for _, h in series), 2),
    }
    if not any(r["status"] == "ok" for r in results):
        raise InsufficientDataError(
            "Too little sales history to forecast any product.", details={"data_volume": volume, "series": results}
        )
    return {
        "model": {
            "name": "holt_linear_exponential_smoothing",
            "description": "Holt's additive-trend smoothing per series; alpha/beta by one-step squared error; "
            "intervals = z * residual sd * Holt h-step factor, floored at zero",
            "period": "week",
            "horizon": horizon,
        },
        "data_volume": volume,
        "predictions": results,
    }


# --- customer segmentation ------------------------------------------------------------------------
def kmeans(
    x: np.ndarray, k: int, *, seed: int = 0, n_init: int = 8, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ starts; the lowest inertia of ``n_init`` runs."""
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    n = len(x)
    for _ in range(n_init):
        centers = [x[rng.integers(n)]]
        for _c in range(1, k):
            d2 = np.min(((x[:, None, :] - np.array(centers)[None, :, :]) ** 2).sum(axis=2), axis=1)
            total = d2.sum()
            index = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
            centers.append(x[index])
        c = np.array(centers, dtype=float)
        labels = np.zeros(n, dtype=int)
        for _it in range(max_iter):
            distances = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
            new_labels = distances.argmin(axis=1)
            new_c = np.array([x[new_labels == j].mean(axis=0) if np.any(new_labels == j) else c[j] for j in range(k)])
            if _it > 0 and np.array_equal(new_labels, labels) and np.allclose(new_c, c):
                break
            labels, c = new_labels, new_c
        inertia = float(((x - c[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels.copy(), c.copy())
    assert best is not None  # noqa: S101 - n_init >= 1
    return best[1], best[2]


@dataclass
class RfmClusters:
    """k-means over standardised log1p RFM: cluster of each row and each cluster's name."""

    raw: np.ndarray
    labels: np.ndarray
    names: dict[int, str]
    assignment_confidence: np.ndarray
    overall: np.ndarray


def _shop_rfm(now: datetime) -> tuple[list[dict[str, Any]], np.ndarray]:
    stats = shop.customer_order_stats(until=now)
    raw = np.array(
        [
            [(now - row["last_order_at"]).total_seconds() / 86400, row["order_count"], float(row["revenue"])]
            for row in stats
        ],
        dtype=float,
    ).reshape(-1, 3)
    return stats, raw


def rfm_clusters(raw: np.ndarray, k: int) -> RfmClusters:
    """Cluster RFM rows and name each cluster from its medians against the overall medians.

    Raises InsufficientDataError below ``5 * k`` rows or ``k`` distinct profiles."""
    n = len(raw)
    distinct = len({tuple(row) for row in raw.tolist()})
    if n < 5 * k or distinct < k:
        raise InsufficientDataError(
            f"{k} segments need at least {5 * k} customers with {k} distinct RFM profiles; got {n} customers, "
            f"{distinct} distinct.",
            details={"data_volume": {"customers": n, "features": ["recency_days", "frequency", "monetary"]}},
        )
    features = np.log1p(raw)
    std = features.std(axis=0)
    scaled = (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0)
    labels, centers = kmeans(scaled, k)
    distances = np.sqrt(((scaled[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))
    ordered = np.sort(distances, axis=1)
    nearest, second = ordered[:, 0], ordered[:, 1]
    # 0.5 = halfway between two centres, 1.0 = on its own centre.
    assignment_confidence = np.where(nearest + second > 0, second / np.maximum(nearest + second, 1e-12), 1.0)
    overall = np.median(raw, axis=0)
    names: dict[int, str] = {}
    for j in range(k):
        members = labels == j
        if not np.any(members):
            continue
        med = np.median(raw[members], axis=0)
        recent, frequent, high = (
            med[0] <= overall[0],
            med[1] > overall[1] or (med[1] == overall[1] and med[1] > 1),
            med[2] >= overall[2],
        )
        names[j] = _SEGMENT_NAMES[(bool(recent), bool(frequent))] + ("_high_value" if high else "")
    return RfmClusters(raw, labels, names, assignment_confidence, overall)


def customer_segments_by_id(*, now: datetime, k: int = DEFAULT_SEGMENTS) -> dict[int, str]:
    """The segment name of every customer with revenue orders before ``now`` (by
    customer id), from the same RFM k-means as ``customer_segmentation`` on shop data.
    Customers without such orders have no segment. Raises InsufficientDataError."""
    stats, raw = _shop_rfm(now)
    clusters = rfm_clusters(raw, k)
    return {int(row["id"]): clusters.names[int(label)] for row, label in zip(stats, clusters.labels, strict=True)}


def _segmentation(
    data: dict[str, Any] | None, params: dict[str, Any], confidence: float, now: datetime
) -> dict[str, Any]:
    k = params.get("segments", DEFAULT_SEGMENTS)
    if data is not None:
        ids = [c["id"] for c in data["customers"]]
        raw = np.array([[c["recency_days"], c["frequency"], c["monetary"]] for c in data["customers"]], dtype=float)
    else:
        stats, raw = _shop_rfm(now)
        ids = [row["email"] for row in stats]
    n = len(ids)
    volume = {"customers": n, "features": ["recency_days", "frequency", "monetary"]}
    clusters = rfm_clusters(raw, k)
    labels, overall, assignment_confidence = clusters.labels, clusters.overall, clusters.assignment_confidence
    segments: list[dict[str, Any]] = []
    for j, name in clusters.names.items():
        members = labels == j
        med = np.median(raw[members], axis=0)
        recent, high = med[0] <= overall[0], med[2] >= overall[2]
        segments.append(
            {
                "segment": name,
                "size": int(members.sum()),
                "share_pct": _r(100 * members.sum() / n, 1),
                "median_recency_days": _r(med[0], 1),
                "median_frequency": _r(med[1], 1),
                "median_monetary": _r(med[2], 2),
                "mean_monetary": _r(float(raw[members, 2].mean()), 2),
                "low_confidence_members": int((assignment_confidence[members] < confidence).sum()),
                "description": (
                    f"{int(members.sum())} customers who last ordered a median {med[0]:.0f} days ago "
                    f"({'more' if recent else 'less'} recently than the median customer), placed a median "
                    f"{med[1]:.0f} orders and spent a median {med[2]:.2f} "
                    f"({'at or above' if high else 'below'} the median {overall[2]:.2f})."
                ),
                "sample_members": [ids[i] for i in np.flatnonzero(members)[:5]],
            }
        )
    segments.sort(key=lambda s: -s["median_monetary"])
    return {
        "model": {
            "name": "rfm_kmeans",
            "description": "recency/frequency/monetary, log1p and standardised; k-means (k-means++ starts, "
            "8 restarts, fixed seed); assignment confidence = d2 / (d1 + d2)",
            "segments": k,
            "inertia_space": "standardised log1p RFM",
        },
        "data_volume": volume,
        "predictions": {
            "segments": segments,
            "overall_medians": {
                "recency_days": _r(overall[0], 1),
                "frequency": _r(overall[1], 1),
                "monetary": _r(overall[2], 2),
            },
        },
    }


# --- dynamic pricing ---------------------------------------------------------------------------------------
def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Intercept, slope and the slope's standard error of ``y ~ x``."""
    n = len(x)
    mean_x = x.mean()
    sxx = float(((x - mean_x) ** 2).sum())
    slope = float(((x - mean_x) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * mean_x)
    residuals = y - (intercept + slope * x)
    dof = max(1, n - 2)
    se = math.sqrt(float((residuals**2).sum()) / dof / sxx) if sxx > 0 else math.inf
    return intercept, slope, se


def _price_one(item: dict[str, Any], params: dict[str, Any], z: float) -> dict[str, Any]:
    price, cost = Decimal(str(item["price"])), Decimal(str(item["cost"]))
    observations = [(float(o["price"]), float(o["units"])) for o in item["observations"]]
    usable = [(p, u) for p, u in observations if u > 0]
    prices = {round(p, 2) for p, _ in usable}
    base: dict[str, Any] = {
        "sku": item["sku"],
        "current_price": _money(price),
        "cost": _money(cost),
        "observations": len(observations),
        "observations_used": len(usable),
        "distinct_prices": len(prices),
    }
    if len(usable) < MIN_PRICE_OBSERVATIONS or len(prices) < MIN_PRICE_POINTS:
        return {
            **base,
            "status": "insufficient_data",
            "reason": f"needs {MIN_PRICE_OBSERVATIONS} periods with sales at {MIN_PRICE_POINTS}+ different prices; "
            f"got {len(usable)} at {len(prices)} price(s)",
        }
    x = np.log(np.array([p for p, _ in usable]))
    y = np.log(np.array([u for _, u in usable]))
    _, elasticity, se = _ols(x, y)
    significant = math.isfinite(se) and abs(elasticity) > z * se
    lower_bound = max(
        price * Decimal(str(1 - params.get("max_discount", 0.3))),
        cost / Decimal(str(1 - params.get("min_margin", 0.2))) if cost else Decimal("0"),
    )
    upper_bound = price * Decimal(str(1 + params.get("max_increase", 0.15)))
    result: dict[str, Any] = {
        **base,
        "status": "ok",
        "elasticity": _r(elasticity),
        "elasticity_ci": [_r(elasticity - z * se), _r(elasticity + z * se)],
        "significant": significant,
    }
    if not significant:
        return {
            **result,
            "recommended_price": _money(price),
            "action": "hold",
            "reason": "elasticity not significant at the confidence threshold",
        }
    if elasticity < -1 and cost > 0:
        target = cost * Decimal(str(elasticity / (1 + elasticity)))
        reason = "profit-maximising price under constant elasticity: cost * e / (1 + e)"
    elif elasticity < -1:
        target = lower_bound
        reason = "elastic demand and no unit cost: lowest allowed price"
    else:
        target = upper_bound
        reason = "inelastic demand (|e| <= 1): revenue and profit rise with price up to the allowed maximum"
    if lower_bound > upper_bound:
        return {
            **result,
            "recommended_price": _money(price),
            "action": "hold",
            "reason": "margin floor is above the allowed maximum price",
        }
    recommended = _money(min(max(target, lower_bound), upper_bound))
    ratio = float(recommended / price)
    units_change = ratio**elasticity - 1
    profit_now = float(price - cost)
    profit_new = float(recommended - cost) * (1 + units_change)
    return {
        **result,
        "recommended_price": recommended,
        "action": "raise" if recommended > price else "lower" if recommended < price else "hold",
        "reason": reason,
        "bounds": [_money(lower_bound), _money(upper_bound)],
        "expected_units_change_pct": _r(100 * units_change, 1),
        "expected_profit_per_period_change_pct": _r(100 * (profit_new - profit_now) / profit_now, 1)
        if profit_now > 0
        else None,
    }


def _pricing(data: dict[str, Any] | None, params: dict[str, Any], confidence: float, now: datetime) -> dict[str, Any]:
    if data is None:
        return _shop_pricing(params, now)
    z = _z(confidence)
    items = data["products"]
    results = [_price_one(item, params, z) for item in items]
    volume = {"products": len(items), "observations": sum(len(i["observations"]) for i in items)}
    if not any(r["status"] == "ok" for r in results):
        raise InsufficientDataError(
            "No product has sales at two or more different prices: elasticity cannot be estimated.",
            details={
                "data_volume": volume,
                "products": [{"sku": r["sku"], "reason": r["reason"]} for r in results[:50]],
            },
        )
    return {
        "model": {
            "name": "log_log_price_elasticity",
            "description": "ln(units) = a + e ln(price) per product by least squares; recommend only when e is "
            "significant; constant-elasticity optimum clamped to margin/discount bounds",
        },
        "data_volume": volume,
        "predictions": results,
    }


def _shop_pricing(params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The shop's own data: the commerce pricing service (the same model as /products/optimize-pricing)."""
    products = Product.objects.filter(status=ProductStatus.ACTIVE)
    if params.get("skus"):
        products = products.filter(sku__in=params["skus"])
    ids = list(products.order_by("sku").values_list("pk", flat=True)[: params.get("limit", 50)])
    answer = price_optimize(
        product_ids=ids,
        strategy="ml_optimized",
        min_margin=Decimal(str(params.get("min_margin", 0.2))),
        max_discount=Decimal(str(params.get("max_discount", 0.3))),
        max_increase=Decimal(str(params.get("max_increase", 0.25))),
        history_days=7 * params.get("history_weeks", 52),
        now=now,
    )
    results = answer["results"]
    volume = {"products": len(results), "weeks_with_sales": sum(r["weeks_with_sales"] for r in results)}
    if all(r["elasticity_source"] == "prior" for r in results):
        raise InsufficientDataError(
            "No product or category has sales at different prices: elasticity would be the prior alone.",
            details={"data_volume": volume, "products": [r["sku"] for r in results[:50]]},
        )
    return {
        "model": {
            "name": "shrunk_log_log_price_elasticity",
            "description": "commerce pricing service, ml_optimized strategy: per-product log-log elasticity "
            "shrunk towards its category and a -1.5 prior by precision; profit-maximising price clamped to "
            "margin, discount and increase bounds (README: Pricing model)",
        },
        "data_volume": volume,
        "predictions": results,
    }


# --- trend prediction ---------------------------------------------------------------------------------------
def _trend_one(group: str, units: list[float], horizon: int, z: float) -> dict[str, Any]:
    y = np.array(units, dtype=float)
    if len(y) < MIN_TREND_WEEKS or not np.any(y):
        return {
            "group": group,
            "status": "insufficient_data",
            "reason": f"needs {MIN_TREND_WEEKS}+ periods with some sales",
            "periods_used": len(y),
        }
    x = np.arange(len(y), dtype=float)
    intercept, slope, se = _ols(x, y)
    recent = y[-4:]
    prior = y[-8:-4] if len(y) >= 8 else y[: max(1, len(y) - 4)]
    direction = "steady"
    if math.isfinite(se) and abs(slope) > z * se:
        direction = "rising" if slope > 0 else "falling"
    return {
        "group": group,
        "status": "ok",
        "periods_used": len(y),
        "units_observed": _r(float(y.sum()), 2),
        "velocity_recent": _r(float(recent.mean()), 2),
        "velocity_prior": _r(float(prior.mean()), 2),
        "velocity_fitted_now": _r(intercept + slope * (len(y) - 1), 2),
        "acceleration": _r(slope),
        "acceleration_ci": [_r(slope - z * se), _r(slope + z * se)] if math.isfinite(se) else None,
        "direction": direction,
        "projected_velocity": [_r(max(0.0, intercept + slope * (len(y) - 1 + h)), 2) for h in range(1, horizon + 1)],
    }


def _trend(data: dict[str, Any] | None, params: dict[str, Any], confidence: float, now: datetime) -> dict[str, Any]:
    z = _z(confidence)
    horizon = params.get("horizon_weeks", 4)
    group_by = params.get("group_by", "category")
    if data is not None:
        series = [(item["group"], [float(v) for v in item["units"]]) for item in data["series"]]
    else:
        weeks = params.get("weeks", 12)
        since, mondays = _whole_weeks(now, weeks)
        by_group = _weekly_units_by(f"product__{group_by}", since=since, until=mondays[-1] + timedelta(weeks=1))
        series = [(group, [weekly.get(m, 0.0) for m in mondays]) for group, weekly in sorted(by_group.items())]
    results = [_trend_one(group, units, horizon, z) for group, units in series]
    volume = {
        "series": len(series),
        "periods": sum(len(u) for _, u in series),
        "units": _r(sum(sum(u) for _, u in series), 2),
    }
    if not any(r["status"] == "ok" for r in results):
        raise InsufficientDataError("Too little sales history to measure any trend.", details={"data_volume": volume})
    results.sort(key=lambda r: -(r.get("acceleration") or 0.0))
    return {
        "model": {
            "name": "linear_velocity_trend",
            "description": "weekly units per group; acceleration = least-squares slope with a normal-approximation "
            "interval; direction claimed only when the interval excludes zero",
            "group_by": group_by if data is None else "given",
            "period": "week",
        },
        "data_volume": volume,
        "predictions": results,
    }


# --- sentiment ------------------------------------------------------------------------------------------------
_vader_lock = threading.Lock()
_vader: Any = None


def _analyzer() -> Any:
    global _vader
    with _vader_lock:
        if _vader is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

            _vader = SentimentIntensityAnalyzer()
        return _vader


def _sentiment(data: dict[str, Any] | None, params: dict[str, Any], confidence: float, now: datetime) -> dict[str, Any]:
    if data is None:
        raise InvalidPredictionInputError(
            "sentiment_analysis needs data.texts: the shop stores no review or message text to analyse.",
            details={"errors": [{"path": "/data/texts", "message": "required"}]},
        )
    analyzer = _analyzer()
    results = []
    for index, item in enumerate(data["texts"]):
        text = item if isinstance(item, str) else item["text"]
        ident = str(index) if isinstance(item, str) else item.get("id", str(index))
        scores = analyzer.polarity_scores(text)
        compound = float(scores["compound"])
        label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        results.append(
            {
                "id": ident,
                "label": label,
                "compound": _r(compound, 4),
                "positive": _r(scores["pos"]),
                "negative": _r(scores["neg"]),
                "neutral": _r(scores["neu"]),
                "confident": abs(compound) >= confidence,
            }
        )
    counts = {label: sum(1 for r in results if r["label"] == label) for label in ("positive", "neutral", "negative")}
    return {
        "model": {
            "name": "vader_lexicon",
            "description": "VADER lexicon and rules (vaderSentiment package, offline); label by compound "
            ">= 0.05 / <= -0.05; confident when |compound| >= confidence_threshold",
        },
        "data_volume": {
            "texts": len(results),
            "characters": sum(len(t if isinstance(t, str) else t["text"]) for t in data["texts"]),
        },
        "predictions": {
            "summary": {**counts, "mean_compound": _r(float(np.mean([r["compound"] for r in results])), 4)},
            "texts": results,
        },
    }


RUNNERS = {
    "demand_forecasting": _demand,
    "customer_segmentation": _segmentation,
    "dynamic_pricing": _pricing,
    "trend_prediction": _trend,
    "sentiment_analysis": _sentiment,
}
