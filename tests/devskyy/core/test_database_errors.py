"""A request that fails because the database is unavailable answers 503, not 500."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from devskyy.core import errors
from tests.devskyy.database_error_urls import MESSAGE


@pytest.fixture
def client(settings) -> Client:
    settings.ROOT_URLCONF = "tests.devskyy.database_error_urls"
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("path", ["/api/v1/db-gone", "/api/v1/db-gone-plain"])
def test_a_database_outage_is_a_503_envelope_with_retry_after(client: Client, path: str) -> None:
    response = client.get(path, HTTP_X_REQUEST_ID="db-gone-1")
    assert response.status_code == 503
    assert response["Retry-After"] == str(errors.DATABASE_RETRY_AFTER_SECONDS)
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["details"] == {"retry_after": errors.DATABASE_RETRY_AFTER_SECONDS}
    assert error["request_id"] == "db-gone-1"
    # The driver's message names hosts and ports: it stays in the server.
    assert b"10.1.2.3" not in response.content
    assert MESSAGE not in response.content.decode()


def test_other_errors_stay_500(client: Client) -> None:
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "Retry-After" not in response


def test_repeated_database_failures_log_once_per_interval(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="devskyy.core.errors")
    errors._database_log._next_at = 0.0  # a fresh interval for this test
    for _ in range(5):
        assert client.get("/api/v1/db-gone").status_code == 503
    logged = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(logged) == 1
    assert "OperationalError" in logged[0].getMessage()
