"""WebSocket connect guard: origin check, JWT (subprotocol or query) or session, close codes."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import path
from rest_framework_simplejwt.tokens import AccessToken

from devskyy.core.models import AuditLog
from devskyy.core.roles import Role
from devskyy.core.tokens import revoke_access_token
from devskyy.core.ws_auth import websocket_auth_stack
from tests.support.auth import access_token, expired_access_token, make_user, security_events

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED_ORIGIN = "https://app.devskyy.app"


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Test-only consumer: accepts and reports what the middleware put in the scope."""

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        await self.send_json(
            {
                "username": user.get_username(),
                "roles": sorted(r.value for r in self.scope["roles"]),
                "method": self.scope["auth_method"],
            }
        )


APP = websocket_auth_stack(URLRouter([path("ws/test", WhoAmIConsumer.as_asgi())]))


def _connect(
    app: Any = APP,
    path_: str = "/ws/test",
    *,
    origin: str | None = ALLOWED_ORIGIN,
    subprotocols: list[str] | None = None,
    cookie: str | None = None,
) -> tuple[bool, Any, Any]:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))

    async def run() -> tuple[bool, Any, Any]:
        communicator = WebsocketCommunicator(app, path_, headers=headers, subprotocols=subprotocols)
        connected, subprotocol = await communicator.connect(timeout=5)
        message = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return connected, subprotocol, message

    return async_to_sync(run)()


def _closed_with(message: dict, code: int) -> None:
    assert message == {"type": "websocket.close", "code": code}


def test_a_token_offered_as_bearer_subprotocol_connects_and_bearer_is_selected() -> None:
    user = make_user(Role.DEVELOPER)
    connected, subprotocol, message = _connect(subprotocols=["bearer", access_token(user)])
    assert connected
    assert subprotocol == "bearer"
    assert message["type"] == "websocket.send"
    assert f'"username": "{user.username}"' in message["text"]
    assert '"roles": ["developer"]' in message["text"]
    assert '"method": "jwt"' in message["text"]


def test_a_token_in_the_query_string_connects() -> None:
    user = make_user()
    connected, _, message = _connect(path_=f"/ws/test?token={access_token(user)}")
    assert connected
    assert message["type"] == "websocket.send"


@pytest.mark.parametrize("case", ["none", "garbage", "expired", "logged_out", "bearer_without_token"])
def test_missing_or_bad_tokens_are_closed_with_4401_and_counted(case: str) -> None:
    user = make_user()
    token = {
        "none": None,
        "garbage": "not-a-jwt",
        "expired": expired_access_token(user),
        "logged_out": access_token(user),
        "bearer_without_token": "",
    }[case]
    if case == "logged_out":
        revoke_access_token(AccessToken(token))  # type: ignore[arg-type]
    subprotocols = None if token is None else (["bearer"] if token == "" else ["bearer", token])
    before = security_events("ws_denied")
    connected, _, message = _connect(subprotocols=subprotocols)
    _closed_with(message, 4401)
    assert security_events("ws_denied") == before + 1
    row = AuditLog.objects.get(action="ws.connect.denied")
    assert row.target_id == "/ws/test"
    assert row.details["origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://shop.devskyy.app.evil.com", "http://app.devskyy.app", "null"]
)
def test_a_foreign_origin_is_closed_with_4403_even_with_a_valid_token(origin: str) -> None:
    token = access_token(make_user())
    _, _, message = _connect(origin=origin, subprotocols=["bearer", token])
    _closed_with(message, 4403)
    assert AuditLog.objects.get(action="ws.connect.denied").details["reason"] == "origin_not_allowed"


@pytest.mark.parametrize("origin", ["https://shop.devskyy.app", "http://localhost:3000", "http://localhost:8000"])
def test_cors_origins_regexes_and_allowed_hosts_are_accepted(origin: str) -> None:
    connected, _, message = _connect(origin=origin, subprotocols=["bearer", access_token(make_user())])
    assert connected
    assert message["type"] == "websocket.send"


def _session_cookie() -> str:
    user = make_user(Role.OPERATOR)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_an_admin_session_cookie_from_an_allowed_origin_connects() -> None:
    connected, _, message = _connect(cookie=_session_cookie())
    assert connected
    assert '"method": "session"' in message["text"]


def test_a_session_cookie_without_origin_is_refused() -> None:
    _, _, message = _connect(origin=None, cookie=_session_cookie())
    _closed_with(message, 4403)


def test_a_script_with_a_token_needs_no_origin() -> None:
    connected, _, message = _connect(origin=None, subprotocols=["bearer", access_token(make_user())])
    assert connected
    assert message["type"] == "websocket.send"


def test_the_project_asgi_application_runs_the_guard_before_routing() -> None:
    from devskyy.asgi import application

    _, _, message = _connect(application, "/ws/agents")
    _closed_with(message, 4401)
    _, _, message = _connect(application, "/ws/agents", origin="https://evil.example")
    _closed_with(message, 4403)
