"""Every request is counted and timed under its method, route template and status."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from tests.support.auth import access_token, bearer, make_user

pytestmark = pytest.mark.django_db


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_and_timed_per_route_status_and_kind() -> None:
    token = access_token(make_user())
    me = {"method": "GET", "route": "/api/v1/auth/me"}
    live = {"method": "GET", "route": "/live"}
    before = {
        "me_200": _value("http_requests_total", **me, status="200"),
        "me_401": _value("http_requests_total", **me, status="401"),
        "me_time": _value("http_request_duration_seconds_count", **me),
        "me_api_2xx": _value("api_request_duration_seconds_count", **me, status_class="2xx"),
        "me_api_4xx": _value("api_request_duration_seconds_count", **me, status_class="4xx"),
        "live": _value("http_requests_total", **live, status="200"),
        "live_api": _value("api_request_duration_seconds_count", **live, status_class="2xx"),
    }
    client = Client()
    for _ in range(3):
        assert client.get("/api/v1/auth/me", **bearer(token)).status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/live").status_code == 200
    assert _value("http_requests_total", **me, status="200") == before["me_200"] + 3
    assert _value("http_requests_total", **me, status="401") == before["me_401"] + 1
    assert _value("http_request_duration_seconds_count", **me) == before["me_time"] + 4
    assert _value("api_request_duration_seconds_count", **me, status_class="2xx") == before["me_api_2xx"] + 3
    assert _value("api_request_duration_seconds_count", **me, status_class="4xx") == before["me_api_4xx"] + 1
    assert _value("http_requests_total", **live, status="200") == before["live"] + 1
    # Probes are not API requests.
    assert _value("api_request_duration_seconds_count", **live, status_class="2xx") == before["live_api"] == 0
