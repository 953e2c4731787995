"""Every route, every way of being refused: generated from the URL conf.

Routes are found by walking ``get_resolver()``, so routes added later (agents, tasks,
commerce, ...) join the matrix without editing this file. A route must be either
listed in ``PUBLIC_ROUTES`` or be a DRF view protected by our authentication classes
and ``RolePermission`` (or listed in ``SELF_SERVICE_ROUTES``); anything else fails
``test_every_route_is_public_or_protected``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from devskyy.core.access import PUBLIC_ROUTES, SELF_SERVICE_ROUTES, STAFF_PAGES
from devskyy.core.api_keys import api_key_revoke
from devskyy.core.authentication import APIKeyAuthentication, JWTAuthentication
from devskyy.core.permissions import RolePermission
from devskyy.core.roles import Role
from tests.support.auth import access_token, bearer, expired_access_token, make_api_key, make_user

_SAMPLES = {"int": "1", "str": "sample", "slug": "sample", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x"}
_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
_WRITE = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    template: str
    name: str | None
    view_class: Any
    methods: tuple[str, ...]

    @property
    def url(self) -> str:
        return _PARAM.sub(lambda m: _SAMPLES.get(m.group("conv") or "str", "sample"), self.template)


def _methods(callback: object, view_class: Any) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(m.upper() for m in actions if m not in ("options", "head")))
    if view_class is None:
        return ()
    names = [m for m in view_class.http_method_names if m not in ("options", "head") and hasattr(view_class, m)]
    return tuple(sorted(m.upper() for m in names))


def _walk(patterns: list, prefix: str, namespace: str | None) -> list[Route]:
    routes: list[Route] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace if entry.namespace else namespace
            if namespace and entry.namespace:
                ns = f"{namespace}:{entry.namespace}"
            routes += _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            view_class = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)
            routes.append(
                Route("/" + prefix + str(entry.pattern), name, view_class, _methods(entry.callback, view_class))
            )
    return routes


def all_routes() -> list[Route]:
    admin_prefix = "/" + settings.ADMIN_URL
    return [r for r in _walk(get_resolver().url_patterns, "", None) if not r.template.startswith(admin_prefix)]


def _kind(route: Route) -> str | None:
    if route.name in PUBLIC_ROUTES:
        return "public"
    if route.name in STAFF_PAGES:
        return "staff_page"
    cls = route.view_class
    if cls is None or not issubclass(cls, APIView):
        return None
    authenticators = set(cls.authentication_classes)
    permissions = set(cls.permission_classes)
    if not {JWTAuthentication, APIKeyAuthentication} <= authenticators or IsAuthenticated not in permissions:
        return None
    if route.name in SELF_SERVICE_ROUTES:
        return "self"
    return "role" if RolePermission in permissions else None


PROTECTED = [r for r in all_routes() if _kind(r) in ("role", "self")]
CASES = [(route, method) for route in PROTECTED for method in route.methods]
WRITE_CASES = [(route, method) for route, method in CASES if method in _WRITE and _kind(route) == "role"]


def _case_id(case: tuple[Route, str]) -> str:
    return f"{case[1]} {case[0].template}"


def test_every_route_is_public_or_protected() -> None:
    unclassified = [r.template for r in all_routes() if _kind(r) is None]
    assert not unclassified, (
        f"routes neither in PUBLIC_ROUTES nor protected by authentication + RolePermission: {unclassified}"
    )
    assert PROTECTED, "the matrix found no protected route at all"


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in all_routes() if _kind(r) == "staff_page"], ids=lambda r: r.template)
def test_staff_pages_send_anonymous_and_non_staff_users_to_the_login(route: Route) -> None:
    client = Client()
    anonymous = client.get(route.url)
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    client.force_login(make_user(Role.OPERATOR))
    assert client.get(route.url).status_code == 302


def test_public_route_list_has_no_stale_entries() -> None:
    names = {r.name for r in all_routes() if r.name}
    assert PUBLIC_ROUTES - names == set()


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in all_routes() if _kind(r) == "public"], ids=lambda r: r.template)
def test_public_routes_answer_without_credentials(route: Route) -> None:
    method = "GET" if "GET" in route.methods or not route.methods else route.methods[0]
    response = Client().generic(method, route.url, data="{}", content_type="application/json")
    assert response.status_code not in (401, 403), response.content[:300]


def _snapshot() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed}


def _assert_refused(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert body["error"]["code"] == code
    if status == 401:
        assert response.has_header("WWW-Authenticate")


def _call(route: Route, method: str, **headers: Any):
    return Client().generic(method, route.url, data="{}", content_type="application/json", **headers)


@pytest.fixture
def revoked_key() -> str:
    created = make_api_key(Role.ADMIN)
    api_key_revoke(prefix=created.api_key.prefix)
    return created.key


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_protected_routes_refuse_missing_and_bad_credentials(case: tuple[Route, str], revoked_key: str) -> None:
    route, method = case
    assert resolve(route.url).view_name == route.name, "sample URL does not reach the route"
    user = make_user(Role.ADMIN)
    expired = expired_access_token(user)
    before = _snapshot()

    _assert_refused(_call(route, method), 401, "not_authenticated")
    _assert_refused(_call(route, method, HTTP_AUTHORIZATION="Bearer not.a.token"), 401, "token_not_valid")
    _assert_refused(_call(route, method, **bearer(expired)), 401, "token_not_valid")
    _assert_refused(_call(route, method, HTTP_X_API_KEY=revoked_key), 401, "api_key_revoked")
    _assert_refused(_call(route, method, HTTP_AUTHORIZATION=f"Api-Key {revoked_key}"), 401, "api_key_revoked")
    assert _snapshot() == before, "a refused request changed the database"

    # Control: the same route lets a valid admin past authentication and authorisation,
    # so the refusals above are about the credentials, not a broken route.
    allowed = _call(route, method, **bearer(access_token(user)))
    assert allowed.status_code not in (401, 403), allowed.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("case", WRITE_CASES, ids=_case_id)
def test_read_only_role_never_writes(case: tuple[Route, str]) -> None:
    route, method = case
    token = access_token(make_user(Role.READ_ONLY))
    key = make_api_key(Role.READ_ONLY)
    before = _snapshot()
    _assert_refused(_call(route, method, **bearer(token)), 403, "permission_denied")
    _assert_refused(_call(route, method, HTTP_X_API_KEY=key.key), 403, "permission_denied")
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_user_without_any_role_cannot_read_role_protected_routes() -> None:
    nobody = make_user(role=None)
    reads = [r for r in PROTECTED if _kind(r) == "role" and "GET" in r.methods]
    assert reads
    for route in reads:
        _assert_refused(_call(route, "GET", **bearer(access_token(nobody))), 403, "permission_denied")
