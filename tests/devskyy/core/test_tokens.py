"""JWT login, refresh rotation and reuse, logout, /me, and the login lockout."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from devskyy.core.models import AuditLog, RevokedAccessToken
from devskyy.core.roles import Role
from tests.support.auth import PASSWORD, bearer, make_user, security_events

pytestmark = pytest.mark.django_db


def _post(client: Client, path: str, body: dict, **headers: Any):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def _login(client: Client, username: str, password: str = PASSWORD, **headers: Any):
    return _post(client, "/api/v1/auth/token", {"username": username, "password": password}, **headers)


def _error(response) -> dict:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    return body["error"]


def test_login_returns_a_pair_with_expiry_and_me_reports_user_roles_and_expiry(settings) -> None:
    user = make_user(Role.DEVELOPER)
    client = Client()
    response = _login(client, user.username)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    access_expires = datetime.fromisoformat(body["access_expires_at"].replace("Z", "+00:00"))
    minutes = (access_expires - datetime.now(UTC)).total_seconds() / 60
    assert settings.JWT_ACCESS_MINUTES - 1 < minutes <= settings.JWT_ACCESS_MINUTES

    me = client.get("/api/v1/auth/me", **bearer(body["access"]))
    assert me.status_code == 200
    data = me.json()
    assert data["user"]["username"] == user.username
    assert data["roles"] == ["developer"]
    assert data["auth_method"] == "jwt"
    assert data["token_expires_at"] == body["access_expires_at"]
    assert AuditLog.objects.filter(action="auth.login.succeeded", actor=user).count() == 1


def test_a_wrong_password_is_refused_audited_counted_and_issues_no_token() -> None:
    user = make_user()
    before_events = security_events("login_failed")
    response = _login(Client(), user.username, "wrong-password")
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_credentials"
    assert OutstandingToken.objects.count() == 0
    row = AuditLog.objects.get(action="auth.login.failed")
    assert row.target_id == user.username
    assert row.ip == "127.0.0.1"
    assert row.request_id == response["X-Request-ID"]
    assert security_events("login_failed") == before_events + 1


def test_malformed_login_body_is_a_400_envelope() -> None:
    response = _post(Client(), "/api/v1/auth/token", {"username": "x"})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "validation_error"
    assert "password" in error["details"]


@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_after_repeated_failures_refuses_even_the_right_password() -> None:
    user = make_user()
    client = Client()
    statuses = [_login(client, user.username, f"wrong-{i}").status_code for i in range(3)]
    # The third failure reaches the limit: that answer already says "locked".
    assert statuses == [401, 401, 429]
    locked = _login(client, user.username)  # correct password, still locked
    assert locked.status_code == 429
    error = _error(locked)
    assert error["code"] == "login_locked"
    assert int(locked["Retry-After"]) > 0
    assert OutstandingToken.objects.count() == 0
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 3
    rows = AuditLog.objects.filter(action="auth.login.failed").order_by("id")
    assert [r.details["locked_out"] for r in rows] == [False, False, True, True]
    # Another client address is not locked out for this user (lockout is per user and IP).
    other = _login(Client(REMOTE_ADDR="10.1.2.3"), user.username)
    assert other.status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_dies() -> None:
    user = make_user()
    client = Client()
    first = _login(client, user.username).json()
    second = _post(client, "/api/v1/auth/refresh", {"refresh": first["refresh"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh"] != first["refresh"]
    assert client.get("/api/v1/auth/me", **bearer(pair["access"])).status_code == 200
    assert BlacklistedToken.objects.filter(token__token=first["refresh"]).exists()


def test_reusing_a_rotated_refresh_token_is_refused_counted_and_ends_every_session() -> None:
    user = make_user()
    client = Client()
    stolen = _login(client, user.username).json()["refresh"]
    other_session = _login(client, user.username).json()["refresh"]
    current = _post(client, "/api/v1/auth/refresh", {"refresh": stolen}).json()["refresh"]
    before = security_events("refresh_reuse")

    reuse = _post(client, "/api/v1/auth/refresh", {"refresh": stolen})
    assert reuse.status_code == 401
    assert _error(reuse)["code"] == "token_reused"
    assert security_events("refresh_reuse") == before + 1
    audit = AuditLog.objects.get(action="auth.refresh.reused")
    assert audit.actor == user
    assert audit.details["refresh_tokens_revoked"] == 2
    # The rotated-in token and the other session are revoked too: the thief's copy is useless.
    for token in (current, other_session):
        response = _post(client, "/api/v1/auth/refresh", {"refresh": token})
        assert response.status_code == 401


def test_a_forged_or_garbage_refresh_token_is_401_without_reuse_event() -> None:
    before = security_events("refresh_reuse")
    response = _post(Client(), "/api/v1/auth/refresh", {"refresh": "eyJhbGciOiJIUzI1NiJ9.e30.x"})
    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"
    assert security_events("refresh_reuse") == before


def test_logout_blacklists_the_refresh_token_and_denies_the_access_token() -> None:
    user = make_user()
    client = Client()
    pair = _login(client, user.username).json()
    response = _post(client, "/api/v1/auth/logout", {"refresh": pair["refresh"]}, **bearer(pair["access"]))
    assert response.status_code == 204
    assert _post(client, "/api/v1/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401
    me = client.get("/api/v1/auth/me", **bearer(pair["access"]))
    assert me.status_code == 401
    assert _error(me)["code"] == "token_not_valid"
    assert AuditLog.objects.filter(action="auth.logout", actor=user).count() == 1
    again = _post(client, "/api/v1/auth/logout", {"refresh": pair["refresh"]})
    assert again.status_code == 401


def test_a_logged_out_access_token_stays_refused_when_the_cache_loses_everything() -> None:
    """The denylist is in the database: a Redis restart without its data (here: the
    cache cleared, and this process's memory of tokens with it) does not bring a
    logged-out access token back."""
    from django.core.cache import cache
    from rest_framework_simplejwt.tokens import AccessToken

    from devskyy.core import principal_cache

    user = make_user()
    client = Client()
    pair = _login(client, user.username).json()
    assert client.get("/api/v1/auth/me", **bearer(pair["access"])).status_code == 200  # remembered "not logged out"
    assert (
        _post(client, "/api/v1/auth/logout", {"refresh": pair["refresh"]}, **bearer(pair["access"])).status_code == 204
    )
    access = AccessToken(pair["access"])
    row = RevokedAccessToken.objects.get(jti=access["jti"])
    assert row.user_id == str(user.pk)
    assert row.expires_at == datetime.fromtimestamp(access["exp"], tz=UTC)
    cache.clear()
    principal_cache.forget()
    me = client.get("/api/v1/auth/me", **bearer(pair["access"]))
    assert me.status_code == 401
    assert _error(me)["code"] == "token_not_valid"


def test_logout_denies_only_the_callers_own_access_token_and_drops_expired_rows() -> None:
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    stale = RevokedAccessToken.objects.create(jti="expired-by-itself", user_id="1", expires_at=timezone.now())
    RevokedAccessToken.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    mine, other = make_user(), make_user()
    client = Client()
    pair = _login(client, mine.username).json()
    others = _login(client, other.username).json()
    # Another user's bearer token sent with my refresh token: my session ends, theirs does not.
    assert (
        _post(client, "/api/v1/auth/logout", {"refresh": pair["refresh"]}, **bearer(others["access"])).status_code
        == 204
    )
    assert not RevokedAccessToken.objects.filter(jti=AccessToken(others["access"])["jti"]).exists()
    assert client.get("/api/v1/auth/me", **bearer(others["access"])).status_code == 200
    assert _post(client, "/api/v1/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401
    assert RevokedAccessToken.objects.filter(pk="expired-by-itself").exists()  # nothing was denied
    again = _login(client, mine.username).json()
    assert (
        _post(client, "/api/v1/auth/logout", {"refresh": again["refresh"]}, **bearer(again["access"])).status_code
        == 204
    )
    assert list(RevokedAccessToken.objects.values_list("jti", flat=True)) == [AccessToken(again["access"])["jti"]]


def test_a_refused_logout_denies_nothing() -> None:
    user = make_user()
    client = Client()
    pair = _login(client, user.username).json()
    response = _post(client, "/api/v1/auth/logout", {"refresh": pair["access"]}, **bearer(pair["access"]))
    assert response.status_code == 401  # an access token is not a refresh token
    assert RevokedAccessToken.objects.count() == 0
    assert client.get("/api/v1/auth/me", **bearer(pair["access"])).status_code == 200


def test_changing_the_password_ends_existing_tokens() -> None:
    user = make_user()
    client = Client()
    pair = _login(client, user.username).json()
    user.set_password("another-long-password-77")
    user.save()
    assert client.get("/api/v1/auth/me", **bearer(pair["access"])).status_code == 401
    assert _post(client, "/api/v1/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401


def test_an_inactive_user_cannot_log_in_or_refresh() -> None:
    user = make_user()
    client = Client()
    pair = _login(client, user.username).json()
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _login(client, user.username).status_code == 401
    assert _post(client, "/api/v1/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401
    assert client.get("/api/v1/auth/me", **bearer(pair["access"])).status_code == 401


@override_settings(LOGIN_RATE_LIMIT_PER_MINUTE=3, AXES_FAILURE_LIMIT=50)
def test_the_token_endpoint_has_a_stricter_per_ip_limit() -> None:
    client = Client()
    answers = [_login(client, f"nobody{i}", "x").status_code for i in range(4)]
    assert answers == [401, 401, 401, 429]
    # Other API routes still have budget for this client.
    assert client.get("/api/v1/auth/me").status_code == 401


def test_admin_login_failures_are_audited_too(settings) -> None:
    user = make_user()
    client = Client()
    response = client.post(f"/{settings.ADMIN_URL}login/", {"username": user.username, "password": "nope"})
    assert response.status_code == 200  # the form again, with an error
    assert AuditLog.objects.filter(action="auth.login.failed", target_id=user.username).count() == 1
