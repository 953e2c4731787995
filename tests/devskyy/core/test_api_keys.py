"""API keys: created once-visible, stored hashed, scoped to a role, revocable, expiring."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devskyy.core.api_keys import api_key_revoke
from devskyy.core.models import APIKey, AuditLog
from devskyy.core.roles import Role
from tests.support.auth import access_token, bearer, make_api_key, make_user

pytestmark = pytest.mark.django_db


def _me(**headers: Any):
    return Client().get("/api/v1/auth/me", **headers)


def test_create_api_key_command_prints_the_key_once_and_stores_only_a_hash() -> None:
    out = StringIO()
    call_command("create_api_key", "--name", "shop-sync", "--role", "operator", "--expires-days", "30", stdout=out)
    text = out.getvalue()
    key = re.search(r"Key \(shown once, store it now\): (\S+)", text)
    assert key is not None, text
    plaintext = key.group(1)
    row = APIKey.objects.get(name="shop-sync")
    assert row.role == "operator"
    assert row.hashed_key.startswith("sha512$$")
    assert plaintext not in row.hashed_key
    assert plaintext not in row.id
    assert 29 <= (row.expiry_date - timezone.now()).days <= 30
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apikey")
        assert plaintext not in repr(cursor.fetchall())
    assert AuditLog.objects.filter(action="api_key.created", target_id=row.prefix).exists()
    me = _me(HTTP_X_API_KEY=plaintext).json()
    assert me["roles"] == ["operator"]
    assert me["api_key"]["prefix"] == row.prefix


def test_create_api_key_command_refuses_bad_input() -> None:
    with pytest.raises(CommandError):
        call_command("create_api_key", "--name", "x", "--role", "superuser", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="expires_days"):
        call_command("create_api_key", "--name", "x", "--role", "api_user", "--expires-days", "0", stdout=StringIO())
    assert not APIKey.objects.exists()


def test_both_headers_authenticate_with_the_keys_role() -> None:
    created = make_api_key(Role.DEVELOPER)
    for headers in ({"HTTP_X_API_KEY": created.key}, {"HTTP_AUTHORIZATION": f"Api-Key {created.key}"}):
        response = _me(**headers)
        assert response.status_code == 200
        assert response.json()["auth_method"] == "api_key"
        assert response.json()["roles"] == ["developer"]


def test_a_wrong_secret_with_a_real_prefix_is_refused() -> None:
    created = make_api_key()
    forged = created.api_key.prefix + "." + "x" * 32
    response = _me(HTTP_X_API_KEY=forged)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_revocation_takes_effect_on_the_very_next_request() -> None:
    created = make_api_key()
    assert _me(HTTP_X_API_KEY=created.key).status_code == 200
    api_key_revoke(prefix=created.api_key.prefix)
    response = _me(HTTP_X_API_KEY=created.key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_an_expired_key_is_refused() -> None:
    created = make_api_key(expires_days=1)
    APIKey.objects.filter(pk=created.api_key.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    response = _me(HTTP_X_API_KEY=created.key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"


def test_last_used_is_written_at_most_once_a_minute() -> None:
    created = make_api_key()
    assert created.api_key.last_used_at is None
    _me(HTTP_X_API_KEY=created.key)
    first = APIKey.objects.get(pk=created.api_key.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        _me(HTTP_X_API_KEY=created.key)
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert APIKey.objects.get(pk=created.api_key.pk).last_used_at == first
    APIKey.objects.filter(pk=created.api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    _me(HTTP_X_API_KEY=created.key)
    assert APIKey.objects.get(pk=created.api_key.pk).last_used_at > first


def test_admins_manage_keys_through_the_api_and_the_key_is_shown_once() -> None:
    token = access_token(make_user(Role.ADMIN))
    client = Client()
    response = client.post(
        "/api/v1/auth/api-keys",
        data=json.dumps({"name": "partner", "role": "read_only", "expires_days": 7}),
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "read_only"
    key = body["key"]
    listing = client.get("/api/v1/auth/api-keys", **bearer(token)).json()
    assert listing["count"] == 1
    assert "key" not in listing["results"][0]
    assert key not in json.dumps(listing)
    revoke = client.post(f"/api/v1/auth/api-keys/{body['prefix']}/revoke", **bearer(token))
    assert revoke.status_code == 200
    assert revoke.json()["revoked"] is True
    assert _me(HTTP_X_API_KEY=key).status_code == 401
    assert AuditLog.objects.filter(action="api_key.revoked", actor__isnull=False).count() == 1


def test_operators_may_not_manage_keys_but_may_read_the_audit_log() -> None:
    token = access_token(make_user(Role.OPERATOR))
    client = Client()
    response = client.post(
        "/api/v1/auth/api-keys",
        data=json.dumps({"name": "x", "role": "admin"}),
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 403
    assert not APIKey.objects.exists()
    audit = client.get("/api/v1/audit-log", **bearer(token))
    assert audit.status_code == 200


def test_unknown_role_in_the_api_is_a_validation_error_and_writes_nothing() -> None:
    token = access_token(make_user(Role.ADMIN))
    response = Client().post(
        "/api/v1/auth/api-keys",
        data=json.dumps({"name": "x", "role": "root"}),
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "role" in response.json()["error"]["details"]
    assert not APIKey.objects.exists()


def test_admin_site_creates_a_key_through_the_service_and_revokes_in_bulk(admin_client_with_role, settings) -> None:
    client = admin_client_with_role
    base = f"/{settings.ADMIN_URL}core/apikey/"
    response = client.post(f"{base}add/", {"name": "from-admin", "role": "api_user", "expires_days": ""}, follow=True)
    assert response.status_code == 200
    row = APIKey.objects.get(name="from-admin")
    shown = [str(m) for m in response.context["messages"]]
    assert any(row.prefix in m and "will not be shown again" in m for m in shown)
    assert AuditLog.objects.filter(action="api_key.created", target_id=row.prefix).exists()
    client.post(base, {"action": "revoke_selected", "_selected_action": [row.pk]}, follow=True)
    assert APIKey.objects.get(pk=row.pk).revoked is True


@pytest.fixture
def admin_client_with_role() -> Client:
    from devskyy.core.accounts import operator_create

    created = operator_create(username="boss")
    client = Client()
    client.force_login(created.user)  # type: ignore[arg-type]  # admin login form is covered in test_tokens
    return client
