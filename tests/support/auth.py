"""Users, tokens and API keys for tests, made through the real services."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from prometheus_client import REGISTRY
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from devskyy.core.accounts import user_set_roles
from devskyy.core.api_keys import CreatedAPIKey, api_key_create
from devskyy.core.roles import Role

PASSWORD = "correct-horse-battery-staple-42"
_counter = itertools.count(1)


def make_user(role: Role | None = Role.OPERATOR, *, username: str | None = None, password: str = PASSWORD):
    username = username or f"user{next(_counter)}"
    user = get_user_model().objects.create_user(username=username, password=password, email=f"{username}@example.com")
    if role is not None:
        user_set_roles(user=user, roles=[role])
    return user


def access_token(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


def expired_access_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(from_time=token.current_time - timedelta(hours=2), lifetime=timedelta(minutes=5))
    return str(token)


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make_api_key(role: Role = Role.API_USER, *, expires_days: int | None = None) -> CreatedAPIKey:
    return api_key_create(name=f"svc-{next(_counter)}", role=role.value, expires_days=expires_days)


def security_events(event_type: str) -> float:
    return REGISTRY.get_sample_value("security_events_total", {"event_type": event_type}) or 0.0
