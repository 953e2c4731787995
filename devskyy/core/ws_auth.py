"""WebSocket connect guard: origin check, then JWT or admin-session authentication.

Wrap the WebSocket router with ``websocket_auth_stack`` (devskyy/asgi.py). For each
connect:

1. **Origin.** A browser always sends ``Origin``; it must be an allowed CORS origin
   (CORS_ALLOWED_ORIGINS, CORS_ALLOWED_ORIGIN_REGEXES) or an http(s) origin whose host
   is in ALLOWED_HOSTS. A connect without ``Origin`` (a script, not a browser) is
   accepted only with a token, never on a session cookie alone, because cookies are
   what a cross-site page could ride on (PITFALLS: CORS does not apply to WebSockets).
   Refused: close code 4403.
2. **Credentials**, in this order: a JWT access token as
   ``Sec-WebSocket-Protocol: bearer, <token>`` (browser: ``new WebSocket(url,
   ["bearer", token])``; the server then selects the ``bearer`` subprotocol), or as
   the query parameter ``?token=<token>``; else the Django session cookie of an admin
   login. A token that is present but invalid, expired or logged out is refused even
   if a session exists. Refused: close code 4401.

A refusal completes the handshake and closes at once with the code (a refusal before
the handshake would reach the client as a bare HTTP 403, without the code), and is
counted as the security event ``ws_denied`` with an audit row.

On success the scope carries ``user``, ``roles`` (frozenset of Role) and
``auth_method`` ("jwt" or "session") for the consumer.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.sessions import SessionMiddlewareStack
from django.conf import settings
from django.http.request import validate_host

from devskyy.core.audit import security_event
from devskyy.core.metrics import SecurityEvent
from devskyy.core.roles import roles_of

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_ORIGIN = 4403
BEARER_SUBPROTOCOL = "bearer"


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def origin_allowed(origin: str) -> bool:
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    # Patterns are anchored at both ends (enforced by devskyy.core.env.regex_list).
    if any(re.match(pattern, origin) for pattern in settings.CORS_ALLOWED_ORIGIN_REGEXES):
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return validate_host(parts.hostname, settings.ALLOWED_HOSTS)


def token_from_scope(scope: Scope, headers: dict[str, str]) -> tuple[str | None, bool]:
    """(token, offered as subprotocol?) from ``bearer, <token>`` or ``?token=``."""
    # ASGI servers list the offered subprotocols in the scope; the header is the fallback.
    offered = [str(p).strip() for p in scope.get("subprotocols") or []]
    if not offered:
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if BEARER_SUBPROTOCOL in offered:
        index = offered.index(BEARER_SUBPROTOCOL)
        if index + 1 < len(offered):
            return offered[index + 1], True
        return "", True  # "bearer" offered without a token: a malformed credential
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("token")
    if values:
        return values[0], False
    return None, False


def _user_from_token(raw: str) -> Any:
    """The active user of a valid, unrevoked access token, or None."""
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.exceptions import InvalidToken

    from devskyy.core.authentication import JWTAuthentication

    if not raw:
        return None
    auth = JWTAuthentication()
    try:
        token = auth.get_validated_token(raw.encode())
        user = auth.get_user(token)
    except (InvalidToken, AuthenticationFailed):
        return None
    return user


def _record_denial(scope: Scope, reason: str, origin: str | None) -> None:
    client = scope.get("client") or (None, None)
    security_event(
        event_type=SecurityEvent.WS_DENIED,
        actor_label="anonymous",
        target_type="ws_path",
        target_id=str(scope.get("path", ""))[:150],
        ip=client[0],
        details={"reason": reason, "origin": (origin or "")[:200]},
    )


def _user_roles(user: Any) -> Any:
    return roles_of(user)


class WebSocketAuthMiddleware:
    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.inner(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        token, via_protocol = token_from_scope(scope, headers)
        subprotocol = BEARER_SUBPROTOCOL if via_protocol else None

        if origin is not None and not origin_allowed(origin):
            await self._deny(scope, receive, send, CLOSE_BAD_ORIGIN, "origin_not_allowed", origin, subprotocol)
            return
        if token is not None:
            user = await database_sync_to_async(_user_from_token)(token)
            method = "jwt"
            if user is None:
                await self._deny(scope, receive, send, CLOSE_UNAUTHENTICATED, "invalid_token", origin, subprotocol)
                return
        else:
            if origin is None:
                await self._deny(scope, receive, send, CLOSE_BAD_ORIGIN, "origin_missing", origin, None)
                return
            user = await get_user(scope) if "session" in scope else None
            method = "session"
            if user is None or not user.is_authenticated:
                await self._deny(scope, receive, send, CLOSE_UNAUTHENTICATED, "not_authenticated", origin, None)
                return

        roles = await database_sync_to_async(_user_roles)(user)
        inner_scope = dict(scope, user=user, roles=roles, auth_method=method)

        async def send_with_subprotocol(message: dict[str, Any]) -> None:
            if subprotocol and message.get("type") == "websocket.accept" and not message.get("subprotocol"):
                message = {**message, "subprotocol": subprotocol}
            await send(message)

        await self.inner(inner_scope, receive, send_with_subprotocol)

    async def _deny(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        code: int,
        reason: str,
        origin: str | None,
        subprotocol: str | None,
    ) -> None:
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        await database_sync_to_async(_record_denial)(scope, reason, origin)
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if subprotocol:
            accept["subprotocol"] = subprotocol
        await send(accept)
        await send({"type": "websocket.close", "code": code})


def websocket_auth_stack(inner: ASGIApp) -> Any:
    """Cookies and session (for admin logins), then the origin and credential checks."""
    return SessionMiddlewareStack(WebSocketAuthMiddleware(inner))
