"""Request ids, the error envelope, security headers and CORS, through the full stack."""

from __future__ import annotations

import pytest
from django.test import Client

ALLOWED = [
    "https://app.devskyy.app",
    "https://api.devskyy.app",
    "https://devskyy-dashboard.vercel.app",
    "http://localhost:3000",
    "https://shop.devskyy.app",
    "https://devskyy-pr-42-skyyroseco.vercel.app",
]
REFUSED = [
    "https://evil.vercel.app",
    "https://devskyy.app.evil.com",
    "http://app.devskyy.app",
    "https://shop.devskyy.app.evil.com",
    "https://devskyy-x-skyyroseco.vercel.app.evil.com",
    "https://evil-skyyroseco.vercel.app",
    "null",
]


@pytest.fixture
def client() -> Client:
    return Client()


def _envelope(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


def test_every_response_carries_a_request_id_and_timing(client: Client) -> None:
    response = client.get("/live")
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Response-Time"].endswith("ms")


def test_a_well_formed_client_request_id_is_echoed(client: Client) -> None:
    response = client.get("/live", HTTP_X_REQUEST_ID="dash-1234.abc")
    assert response["X-Request-ID"] == "dash-1234.abc"


def test_a_malformed_client_request_id_is_replaced(client: Client) -> None:
    response = client.get("/live", HTTP_X_REQUEST_ID="bad id\nInjected: yes")
    assert response["X-Request-ID"] != "bad id\nInjected: yes"
    assert len(response["X-Request-ID"]) == 32


def test_unknown_api_path_gets_the_404_envelope(client: Client) -> None:
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert _envelope(response)["code"] == "not_found"


def test_wrong_method_gets_the_405_envelope_with_allow(client: Client) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert _envelope(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"


def test_security_headers_are_set(client: Client) -> None:
    response = client.get("/health")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "default-src 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("origin", ALLOWED)
def test_allowed_origins_get_cors_headers_on_preflight_actual_and_404(client: Client, origin: str) -> None:
    preflight = client.options(
        "/api/v1/anything",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )
    assert preflight["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    actual = client.get("/health", HTTP_ORIGIN=origin)
    assert actual["Access-Control-Allow-Origin"] == origin
    assert "X-Request-ID" in actual["Access-Control-Expose-Headers"]
    missing = client.get("/api/v1/missing", HTTP_ORIGIN=origin)
    assert missing.status_code == 404
    assert missing["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", REFUSED)
def test_other_origins_get_no_cors_headers(client: Client, origin: str) -> None:
    preflight = client.options("/api/v1/anything", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "Access-Control-Allow-Origin" not in preflight
    actual = client.get("/health", HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in actual
    missing = client.get("/api/v1/missing", HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in missing


def test_html_pages_keep_html_errors(client: Client) -> None:
    from django.conf import settings

    response = client.get(f"/{settings.ADMIN_URL}no-such-page/")
    assert response.status_code in (302, 404)  # admin redirects anonymous users to login
    assert not response.get("Content-Type", "").startswith("application/json")


def test_schema_and_docs_are_public(client: Client) -> None:
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_an_unhandled_error_gets_the_500_envelope_without_internals(settings) -> None:
    settings.ROOT_URLCONF = "tests.devskyy.boom_urls"
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/boom", HTTP_ORIGIN="https://app.devskyy.app")
    assert response.status_code == 500
    error = _envelope(response)
    assert error["code"] == "internal_error"
    assert b"secret-internal-detail" not in response.content
    assert b"Traceback" not in response.content
    assert response["Access-Control-Allow-Origin"] == "https://app.devskyy.app"


def test_admin_static_files_are_served_in_embedded_mode(client: Client) -> None:
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"{" in b"".join(response.streaming_content)  # type: ignore[attr-defined]
