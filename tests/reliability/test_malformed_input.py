"""Issue 9, R5 (hand-written half): malformed bodies on representative write endpoints.

Three write endpoints (queue a task, update a product, start a workflow) each receive
the same kinds of broken input, placed where each endpoint takes free text: malformed
JSON, wrong types, a body over the size limit, invalid unicode (bytes that are not
UTF-8, unpaired surrogates), NUL characters (escaped and raw) and 10,000 levels of
nesting. Each gets a 4xx in the error envelope, and the database is as it was: no
task, workflow, step, feed event or audit row, the product untouched. A positive
control per endpoint (valid unicode: accents, emoji, right-to-left, combining marks)
shows the same request does write when its input is good, so "nothing changed" is
not vacuous. Real PostgreSQL (services pass): NUL and surrogates only fail there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agents_app.models import Agent, AgentTask, WorkflowRun, WorkflowStep
from commerce_app.models import Product
from devskyy.core.accounts import user_set_roles
from devskyy.core.models import AuditLog
from devskyy.core.roles import Role
from devskyy.feed.models import FeedEvent
from tests.support.auth import access_token

pytestmark = [pytest.mark.services, pytest.mark.django_db]

SLOT = "@@SLOT@@"  # where each endpoint takes free text; malformed cases replace it
GOOD_UNICODE = "Rosé 🌹 noir — שלום ﷽ e\u0301 ﬁ"


def _task_body() -> str:
    return json.dumps({"agent_id": "commerce-001", "action": "catalog_search", "parameters": {"query": SLOT}})


def _workflow_body() -> str:
    step = {"id": "find", "agent": "commerce-001", "action": "catalog_search", "parameters": {"query": SLOT}}
    return json.dumps({"workflow_name": "custom", "parameters": {"steps": [step]}})


def _product_body() -> str:
    return json.dumps({"description": SLOT})


ENDPOINTS: dict[str, tuple[str, Callable[[], str], dict[str, Any]]] = {
    # name: (method + path (``{product}`` filled in), body template, wrong-types body)
    "task": (
        "post /api/v1/tasks",
        _task_body,
        {"agent_id": ["commerce-001"], "action": 7, "parameters": "query=rose"},
    ),
    "product": ("patch /api/v1/commerce/products/{product}", _product_body, {"name": {"x": 1}, "stock": "many"}),
    "workflow": (
        "post /api/v1/orchestration/workflows",
        _workflow_body,
        {"workflow_name": 42, "parameters": [], "parallel": "sometimes"},
    ),
}


def _in_slot(template: str, raw: bytes) -> bytes:
    """The body with ``raw`` (already JSON-escaped where needed) in place of the slot."""
    return template.encode().replace(SLOT.encode(), raw)


MALFORMED: dict[str, tuple[Callable[[str, dict[str, Any]], bytes], int, str]] = {
    # name: (make body from (template, wrong-types body), status, error code)
    "truncated_json": (lambda t, w: _in_slot(t, b"rose")[:-5], 400, "parse_error"),
    "form_encoded_as_json": (lambda t, w: b"agent_id=commerce-001&action=catalog_search", 400, "parse_error"),
    "wrong_types": (lambda t, w: json.dumps(w).encode(), 400, "validation_error"),
    "over_the_size_limit": (lambda t, w: _in_slot(t, b"r" * (6 * 1024 * 1024)), 413, "payload_too_large"),
    "bytes_not_utf8": (lambda t, w: _in_slot(t, b"ros\xff\xfe"), 400, "parse_error"),
    "unpaired_surrogate": (lambda t, w: _in_slot(t, rb"ros\ud800e"), 400, "validation_error"),
    "escaped_nul": (lambda t, w: _in_slot(t, rb"ros\u0000e"), 400, "validation_error"),
    "raw_nul_byte": (lambda t, w: _in_slot(t, b"ros\x00e"), 400, "parse_error"),
    "nested_10000_deep": (
        lambda t, w: _in_slot(t, b'rose", "deep": ' + b"[" * 10_000 + b"]" * 10_000 + b', "x": "'),
        400,
        "parse_error",
    ),
}


@pytest.fixture
def api(settings: Any) -> tuple[Client, int]:
    settings.RATE_LIMIT_PER_MINUTE = 100_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
    Agent.objects.create(
        slug="commerce-001", type="commerce", name="Commerce Lead", category="commerce", tools=["catalog_search"]
    )
    product = Product.objects.create(
        sku="BR-TEE-001", name="Black Rose Tee", description="Heavyweight tee.", price=Decimal("48.00"), category="tops"
    )
    admin = get_user_model().objects.create_user(username="admin-malformed", password=None)  # no hashing: fast
    user_set_roles(user=admin, roles=[Role.ADMIN])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {access_token(admin)}")
    return client, product.pk


def _state(product_id: int) -> dict[str, Any]:
    return {
        "tasks": AgentTask.objects.count(),
        "workflows": WorkflowRun.objects.count(),
        "steps": WorkflowStep.objects.count(),
        "events": FeedEvent.objects.count(),
        "audit": AuditLog.objects.count(),
        "product": Product.objects.filter(pk=product_id).values().get(),
    }


def _send(client: Client, endpoint: str, product_id: int, body: bytes) -> Any:
    method, path = ENDPOINTS[endpoint][0].split(" ")
    send = getattr(client, method)
    return send(path.format(product=product_id), data=body, content_type="application/json")


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_malformed_input_gets_a_4xx_envelope_and_changes_nothing(
    api: tuple[Client, int], endpoint: str, case: str
) -> None:
    client, product_id = api
    make, status, code = MALFORMED[case]
    _, template, wrong_types = ENDPOINTS[endpoint]
    before = _state(product_id)

    response = _send(client, endpoint, product_id, make(template(), wrong_types))

    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    assert _state(product_id) == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_valid_unicode_is_accepted_and_stored_as_sent(api: tuple[Client, int], endpoint: str) -> None:
    client, product_id = api
    before = _state(product_id)
    text = json.dumps(GOOD_UNICODE)[1:-1].encode()  # JSON-escaped, as a client would send it

    response = _send(client, endpoint, product_id, _in_slot(ENDPOINTS[endpoint][1](), text))

    assert response.status_code in (200, 201, 202), response.content[:500]
    after = _state(product_id)
    if endpoint == "product":
        assert after["product"]["description"] == GOOD_UNICODE
    elif endpoint == "task":
        assert after["tasks"] == before["tasks"] + 1
        assert AgentTask.objects.latest("created_at").parameters == {"query": GOOD_UNICODE}
    else:
        assert after["workflows"] == before["workflows"] + 1
        step = WorkflowStep.objects.latest("pk")
        assert step.parameters == {"query": GOOD_UNICODE}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/commerce/products?search=ros%00e",
        "/api/v1/tasks?agent=commerce%00-001",
        "/api/v1/commerce/orders?customer_email=a%00@example.com",
        "/api/v1/agents/commerce%00-001",
        "/api/v1/commerce/products/99999999999999999999999",
        "/api/v1/tasks/%00",
    ],
)
def test_nul_bytes_and_huge_ids_in_urls_get_a_4xx_envelope(api: tuple[Client, int], path: str) -> None:
    client, _ = api
    response = client.get(path)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"]


@pytest.mark.parametrize("path", ["/api/v1/tasks?cursor=not-a-cursor", "/api/v1/round-table?cursor=%00%ff"])
def test_a_malformed_cursor_is_a_400_naming_the_parameter(api: tuple[Client, int], path: str) -> None:
    client, _ = api
    response = client.get(path)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["cursor"]
