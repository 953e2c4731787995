"""Roles from the data migration, operators, the audit log (service, API, admin), event names."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from devskyy.core.accounts import operator_create
from devskyy.core.audit import SECURITY_ACTIONS, audit_record, security_event
from devskyy.core.metrics import SecurityEvent, record_security_event
from devskyy.core.models import AuditLog
from devskyy.core.roles import Role, roles_of
from tests.support.auth import access_token, bearer, make_user, security_events

pytestmark = pytest.mark.django_db


def test_the_data_migration_created_the_five_role_groups() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_create_operator_makes_an_admin_capable_operator() -> None:
    out = StringIO()
    call_command("create_operator", "--username", "night-shift", stdout=out)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="night-shift")
    assert user.is_staff
    assert user.is_superuser
    assert set(user.groups.values_list("name", flat=True)) == {"operator", "admin"}
    assert roles_of(user) == {Role.OPERATOR, Role.ADMIN}
    password = out.getvalue().rsplit(": ", 1)[1].strip()
    assert user.check_password(password)
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_operator", "--username", "night-shift", stdout=StringIO())


def test_audit_record_takes_the_request_id_from_the_context() -> None:
    from devskyy.core.context import request_id_var

    token = request_id_var.set("req-123")
    try:
        row = audit_record(action="test.action", actor_label="system", target_type="thing", target_id=7)
    finally:
        request_id_var.reset(token)
    assert row.request_id == "req-123"
    assert row.target_id == "7"


def test_security_event_names_are_a_closed_set() -> None:
    assert set(SECURITY_ACTIONS) == set(SecurityEvent)
    with pytest.raises(ValueError, match="not a valid SecurityEvent"):
        record_security_event("anything at all")
    before = security_events("bad_webhook_signature")
    security_event(event_type=SecurityEvent.BAD_WEBHOOK_SIGNATURE, actor_label="woocommerce", details={"id": "d1"})
    assert security_events("bad_webhook_signature") == before + 1
    assert AuditLog.objects.filter(action="webhook.signature.invalid").count() == 1


def test_audit_log_api_filters_and_refuses_developers() -> None:
    audit_record(action="a.one", actor_label="system")
    audit_record(action="a.two", actor_label="system")
    client = Client()
    admin = bearer(access_token(make_user(Role.ADMIN)))
    body = client.get("/api/v1/audit-log?action=a.two", **admin).json()
    assert [r["action"] for r in body["results"]] == ["a.two"]
    developer = bearer(access_token(make_user(Role.DEVELOPER)))
    assert client.get("/api/v1/audit-log", **developer).status_code == 403


def test_the_audit_log_is_browsable_but_read_only_in_admin(settings, django_assert_max_num_queries) -> None:
    operator = operator_create(username="auditor")
    for i in range(30):
        audit_record(action="bulk.event", actor=operator.user, target_id=i)
    client = Client()
    client.force_login(operator.user)  # type: ignore[arg-type]
    base = f"/{settings.ADMIN_URL}core/auditlog/"
    with django_assert_max_num_queries(12):
        listing = client.get(base + "?action__exact=bulk.event")
    assert listing.status_code == 200
    assert listing.content.count(b"bulk.event") >= 30
    assert client.get(base + "?q=auditor").status_code == 200
    assert client.get(base + "add/").status_code == 403
    row = AuditLog.objects.filter(action="bulk.event").first()
    assert row is not None
    assert client.post(f"{base}{row.pk}/change/", {"action": "tampered"}).status_code == 403
    assert client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(action="tampered").count() == 0


def test_the_schema_documents_the_auth_endpoints_and_schemes() -> None:
    schema = Client().get("/api/schema/?format=json").json()
    for route in ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/me"):
        assert route in schema["paths"]
    assert {"jwtAuth", "apiKey"} <= set(schema["components"]["securitySchemes"])


def test_revoked_access_tokens_are_listed_read_only_in_admin(settings) -> None:
    import json

    from devskyy.core.models import RevokedAccessToken
    from tests.support.auth import PASSWORD, make_user

    leaving = make_user()
    client = Client()
    pair = client.post(
        "/api/v1/auth/token",
        data=json.dumps({"username": leaving.username, "password": PASSWORD}),
        content_type="application/json",
    ).json()
    logout = client.post(
        "/api/v1/auth/logout",
        data=json.dumps({"refresh": pair["refresh"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
    )
    assert logout.status_code == 204
    row = RevokedAccessToken.objects.get()
    operator = operator_create(username="security-desk")
    admin = Client()
    admin.force_login(operator.user)  # type: ignore[arg-type]
    base = f"/{settings.ADMIN_URL}core/revokedaccesstoken/"
    listing = admin.get(base)
    assert listing.status_code == 200
    assert row.jti.encode() in listing.content
    assert admin.get(base + "add/").status_code == 403
    assert admin.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RevokedAccessToken.objects.filter(pk=row.pk).exists()
