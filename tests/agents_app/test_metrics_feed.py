"""metrics_update carries request rate, error rate and latency measured from real requests."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from agents_app import feed_metrics
from devskyy.core.metrics import histogram_quantile

pytestmark = pytest.mark.django_db


def test_histogram_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    # 10 requests: 6 took <= 10 ms, 9 <= 100 ms, all <= 1 s.
    buckets = {0.01: 6.0, 0.1: 9.0, 1.0: 10.0, float("inf"): 10.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.01 * 5 / 6)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.1 + 0.9 * 0.5)
    assert histogram_quantile(0.5, {0.01: 0.0, float("inf"): 0.0}) is None
    assert histogram_quantile(0.99, {0.01: 1.0, float("inf"): 5.0}) == 0.01  # rank in +Inf: highest bound


def test_the_publisher_window_counts_the_requests_served_and_their_errors(settings) -> None:
    settings.ROOT_URLCONF = "tests.devskyy.boom_urls"
    feed_metrics._http_previous = None
    assert feed_metrics.http_window() is None  # the first reading only sets the baseline
    client = Client(raise_request_exception=False)
    for _ in range(3):
        assert client.get("/live").status_code == 200
    assert client.get("/api/v1/boom").status_code == 500
    time.sleep(0.05)
    window = feed_metrics.http_window()
    assert window is not None
    assert window["requests"] == 4
    assert window["error_rate"] == 25.0
    assert window["request_rate"] == pytest.approx(4 / window["window_seconds"], rel=0.2)
    assert window["latency_p95_ms"] is not None
    assert window["latency_p95_ms"] >= window["latency_p50_ms"] > 0
    snapshot = feed_metrics.metrics_snapshot()
    assert snapshot["http"] == window
    quiet = feed_metrics.http_window()
    assert quiet is not None
    assert quiet["requests"] == 0
    assert quiet["error_rate"] is None
    assert quiet["latency_p95_ms"] is None


def test_no_http_figures_when_metrics_are_switched_off(settings) -> None:
    settings.ENABLE_METRICS = False
    assert feed_metrics.http_window() is None
