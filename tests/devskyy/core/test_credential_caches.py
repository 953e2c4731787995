"""Per-process memory of verified API keys and JWT users (PERF P1): no row is read
again while the ``auth`` version holds, and every change still applies on the very
next request.

Transactional tests: the caches are off inside transactions (a test's atomic block
included), as documented in devskyy/core/api_keys.py and principal_cache.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devskyy.core import versions
from devskyy.core.accounts import user_set_roles
from devskyy.core.api_keys import api_key_revoke
from devskyy.core.models import APIKey
from devskyy.core.roles import Role
from devskyy.core.tokens import token_logout
from tests.support.auth import access_token, bearer, make_api_key, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _me(**headers: Any):
    return Client().get("/api/v1/auth/me", **headers)


def _tables_read(queries: CaptureQueriesContext) -> str:
    return " ".join(q["sql"] for q in queries.captured_queries)


def _check_revocation_and_role_change() -> None:
    created = make_api_key(Role.DEVELOPER)
    assert _me(HTTP_X_API_KEY=created.key).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = _me(HTTP_X_API_KEY=created.key)
    assert response.json()["roles"] == ["developer"]
    assert "core_apikey" not in _tables_read(queries), "a verified key is remembered"

    row = APIKey.objects.get(pk=created.api_key.pk)
    row.role = Role.READ_ONLY.value
    row.save(update_fields=["role"])  # an admin edit
    assert _me(HTTP_X_API_KEY=created.key).json()["roles"] == ["read_only"]

    api_key_revoke(prefix=created.api_key.prefix)
    response = _me(HTTP_X_API_KEY=created.key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_a_remembered_api_key_is_refused_on_the_very_next_request_after_revocation() -> None:
    _check_revocation_and_role_change()


def test_a_remembered_key_is_digested_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate limiter's identity and DRF's authentication share the remembered key
    the limiter found (one SHA-512 of the key per request, not two)."""
    from devskyy.core import api_keys

    created = make_api_key(Role.DEVELOPER)
    assert _me(HTTP_X_API_KEY=created.key).status_code == 200  # verified and remembered
    digested: list[str] = []
    real = api_keys._digest

    def counting(raw: str) -> bytes:
        digested.append(raw)
        return real(raw)

    monkeypatch.setattr(api_keys, "_digest", counting)
    assert _me(HTTP_X_API_KEY=created.key).status_code == 200
    assert digested == [created.key]
    digested.clear()
    wrong = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")
    assert _me(HTTP_X_API_KEY=wrong).status_code == 401  # not the remembered key: checked in full
    assert digested, "a different key is digested, never taken from the request's stash"


def test_a_wrong_secret_is_refused_even_when_its_prefix_is_remembered() -> None:
    created = make_api_key()
    assert _me(HTTP_X_API_KEY=created.key).status_code == 200
    forged = created.api_key.prefix + "." + "y" * 32
    assert _me(HTTP_X_API_KEY=forged).status_code == 401


def _check_jwt_user_changes() -> None:
    user = make_user(Role.OPERATOR)
    token = access_token(user)
    assert _me(**bearer(token)).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert _me(**bearer(token)).json()["roles"] == ["operator"]
    assert "auth_user" not in _tables_read(queries), "the user and roles are remembered"

    user_set_roles(user=user, roles=[Role.READ_ONLY])
    assert _me(**bearer(token)).json()["roles"] == ["read_only"]

    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _me(**bearer(token)).status_code == 401


def test_role_changes_and_deactivation_apply_to_the_next_jwt_request() -> None:
    _check_jwt_user_changes()


def test_a_password_change_ends_remembered_tokens() -> None:
    user = make_user(Role.OPERATOR)
    token = access_token(user)
    assert _me(**bearer(token)).status_code == 200
    user.set_password("another-correct-horse-battery-7")
    user.save()
    response = _me(**bearer(token))
    assert response.status_code == 401


def test_a_logged_out_access_token_is_refused_at_once() -> None:
    from rest_framework_simplejwt.tokens import RefreshToken

    user = make_user(Role.OPERATOR)
    refresh = RefreshToken.for_user(user)
    access = str(refresh.access_token)
    assert _me(**bearer(access)).status_code == 200
    assert _me(**bearer(access)).status_code == 200  # remembered as "not logged out"
    token_logout(raw_refresh=str(refresh), raw_access=access)
    assert _me(**bearer(access)).status_code == 401


def test_a_logged_out_access_token_presented_again_costs_no_query() -> None:
    """A logout is final: once this process found a token revoked, it refuses it again
    from memory (an attacker replaying it costs no database read), even after the
    ``auth`` version moved on."""
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = RefreshToken.for_user(make_user(Role.OPERATOR))
    access = str(refresh.access_token)
    token_logout(raw_refresh=str(refresh), raw_access=access)
    with CaptureQueriesContext(connection) as queries:
        assert _me(**bearer(access)).status_code == 401
    assert "core_revokedaccesstoken" in _tables_read(queries)
    versions.bump(versions.AUTH)  # another logout somewhere
    with CaptureQueriesContext(connection) as queries:
        assert _me(**bearer(access)).status_code == 401
    assert "core_revokedaccesstoken" not in _tables_read(queries), "a revoked token is remembered"


def test_a_bump_inside_a_transaction_applies_only_when_it_commits() -> None:
    from django.db import transaction

    before = versions.current(versions.AUTH)
    with transaction.atomic():
        versions.bump(versions.AUTH)
        assert versions.current(versions.AUTH) == before
    assert versions.current(versions.AUTH) != before


# --- the same over Redis: versions come with the rate limiter's round trip ------------
@pytest.mark.services
def test_over_redis_revocation_and_role_change_apply_at_once() -> None:
    _check_revocation_and_role_change()


@pytest.mark.services
def test_over_redis_jwt_user_changes_apply_at_once() -> None:
    _check_jwt_user_changes()


@pytest.mark.services
def test_api_requests_read_the_versions_in_the_rate_limiter_round_trip() -> None:
    from django.http import HttpRequest

    from devskyy.core.ratelimit import RateLimitMiddleware

    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> Any:
        from django.http import HttpResponse

        seen.update(getattr(request, versions.REQUEST_ATTR, {}))
        return HttpResponse("ok")

    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = "/api/v1/agents"
    request.META = {"REMOTE_ADDR": "127.0.0.9"}
    RateLimitMiddleware(view)(request)
    assert versions.AUTH in seen
    assert seen[versions.AUTH] == versions.current(versions.AUTH)


@pytest.mark.services
def test_with_redis_unreachable_nothing_is_served_from_memory(settings) -> None:
    from devskyy.core import ratelimit
    from tests.support.servers import redis_server

    created = make_api_key()
    with redis_server() as redis:
        settings.REDIS_URL = redis.url
        ratelimit._limiter = None  # a limiter on the private Redis
        try:
            assert _me(HTTP_X_API_KEY=created.key).status_code == 200
            with CaptureQueriesContext(connection) as queries:
                assert _me(HTTP_X_API_KEY=created.key).status_code == 200
            assert "core_apikey" not in _tables_read(queries)
            redis.stop()
            assert versions.current(versions.AUTH) is None
            with CaptureQueriesContext(connection) as queries:
                assert _me(HTTP_X_API_KEY=created.key).status_code == 200
            assert "core_apikey" in _tables_read(queries), "no version: the row is read"
        finally:
            ratelimit._limiter = None
            versions._open_until = 0.0


def test_a_remembered_user_is_handed_out_as_a_private_copy() -> None:
    import copy

    from devskyy.core.principal_cache import private_copy
    from devskyy.core.roles import roles_of

    user = make_user(Role.OPERATOR)
    roles = roles_of(user)
    user.groups.all()  # noqa: B018 - a related manager touched, as a view might
    first = private_copy(user)
    assert first is not user
    assert first.__class__ is user.__class__
    assert (first.pk, first.username, first.password, first.is_active) == (
        user.pk,
        user.username,
        user.password,
        user.is_active,
    )
    assert roles_of(first) == roles
    assert first._state is not user._state
    assert first._state.fields_cache is not user._state.fields_cache
    assert (first._state.db, first._state.adding) == (user._state.db, user._state.adding)
    # What a view does to its request.user stays on its copy.
    first.first_name = "changed"
    first._state.fields_cache["x"] = object()
    first.extra = 1
    second = private_copy(user)
    assert (second.first_name, hasattr(second, "extra"), "x" in second._state.fields_cache) == (
        user.first_name,
        False,
        False,
    )
    # As copy.copy would have made it, field for field (less pickling's version stamp).
    reference = copy.copy(user)
    assert {k: v for k, v in vars(second).items() if k != "_state"} == {
        k: v for k, v in vars(reference).items() if k not in ("_state", "_django_version")
    }
    second.save(update_fields=["first_name"])  # a copy is a working model instance
