"""Issue 9, R5 (schema half): schemathesis over every operation of /api/schema/.

The schema is read from the Django WSGI app in this process (real PostgreSQL and
Redis: the services pass) and must validate against the OpenAPI 3 specification.
Each of its operations is then called with generated requests — valid ones, and ones
that break the schema (wrong types, missing or extra fields, NUL bytes, unicode,
boundary and huge integers, unknown methods) — as a user with the admin role (JWT
bearer), so writes are exercised. Every response must:

* not be a server error; the one exception is a documented 503 whose error code says
  an outside integration is not configured here (WordPress, LLM providers: the test
  environment configures none, and calling them is what such an operation is for);
* carry a status code the schema documents for that operation;
* match the schema documented for that status (errors: the envelope) and its content type;
* not be 401/403 on an authenticated operation: the credentials are valid and admin,
  so a refusal would mean the fuzzing stopped testing what it claims to.

No operation is excluded (logout, token refresh and API-key revocation get generated
tokens and prefixes, which never match the admin's credentials).

Bounded for CI: EXAMPLES_PER_OPERATION generated cases per operation on top of
schemathesis' coverage cases, derandomized (the same cases on every run), no example
database. Each failure names the operation and a curl command reproducing it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
import yaml
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.test import Client
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devskyy.core.roles import Role
from tests.support.auth import access_token, make_user
from tests.support.load import empty_broker

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 15
# Error codes of a 503 meaning "this deployment has no such integration configured".
NOT_CONFIGURED = {
    "integration_not_configured",
    "llm_not_configured",
    "provider_not_configured",  # 3D/try-on without TRIPO_API_KEY / FASHN_API_KEY
    "feature_disabled",  # ENABLE_3D_GENERATION=false
}


def not_a_server_error_unless_not_configured(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 500:
        return None
    code = None
    if response.status_code == 503:
        try:
            code = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
    if code in NOT_CONFIGURED:
        return None
    raise AssertionError(f"{case.operation.label} answered {response.status_code}: {response.content[:500]!r}")


def credentials_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    authenticated = bool(case.operation.definition.raw.get("security"))
    if authenticated and response.status_code in (401, 403):
        raise AssertionError(f"valid admin credentials refused by {case.operation.label}: {response.content[:300]!r}")
    return None


CHECKS = [
    not_a_server_error_unless_not_configured,
    credentials_accepted,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(settings: Any) -> Iterator[Any]:
    # One client (this test) makes every request: no rate limit may answer for the API.
    settings.RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.RATE_LIMIT_PER_HOUR = 1_000_000
    settings.LOGIN_RATE_LIMIT_PER_MINUTE = 1_000_000
    call_command("seed_agents", stdout=io.StringIO())
    yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    # Tasks and deliveries created here were queued for workers that never ran.
    empty_broker(settings.CELERY_BROKER_URL)


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(make_user(Role.ADMIN, username='fuzz-admin'))}"}


def test_the_served_schema_is_valid_openapi() -> None:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    validate_schema(document)  # raises on any violation of the OpenAPI 3 schema
    assert document["openapi"].startswith("3.")
    assert len(document["paths"]) > 40


@pytest.mark.timeout(600)
@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
def test_every_operation_answers_within_its_schema_and_never_5xx(case: Any, admin_headers: dict[str, str]) -> None:
    response = case.call(headers=admin_headers)
    case.validate_response(response, checks=CHECKS, headers=admin_headers)
