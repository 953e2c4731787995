"""JWT requests without database reads: verified tokens and their users, per process.

An authenticated JWT request used to verify the token's signature twice (rate
limiter, then DRF), ask the cache whether the token was logged out, read the user
and then the user's role groups: two database queries and a Redis read per request
(PERF P1, bench/README.md). Now, per process:

* a verified access token is remembered by its exact text; its expiry is checked on
  every use (a remembered token that expired is verified again, and refused);
* "this token is not logged out" and the user row with its roles are remembered with
  the ``auth`` version (devskyy/core/versions.py) read *before* they were read, and
  used only while that version is current. Logging out, saving or deleting a user
  (password, active flag), changing a user's groups and editing a group all bump it
  (devskyy/core/receivers.py, core/tokens.py), so such a change applies to the next
  request in every process. Every use re-checks the user's active flag and the
  token's password-hash claim against the remembered user.
* Redis unreachable: the version is unknown, nothing is served from memory. Inside a
  transaction nothing is remembered or served. A remembered user is re-read after
  AUTH_CACHE_SECONDS at the latest.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, Token

from devskyy.core import versions

AUTH_VERSION = versions.AUTH
_MAX_ENTRIES = 10_000

_lock = threading.Lock()
_tokens: dict[str, AccessToken] = {}
_not_revoked: dict[str, tuple[int, float]] = {}  # jti -> (auth version, monotonic expiry)
_revoked: dict[str, bool] = {}  # jti of a token found logged out (forever: a logout is final)
_users: dict[Any, tuple[int, float, Any]] = {}  # user id -> (auth version, monotonic expiry, user)


def _store(table: dict[Any, Any], key: Any, value: Any) -> None:
    with _lock:
        if len(table) >= _MAX_ENTRIES:
            table.clear()
        table[key] = value


def forget() -> None:
    """Drop everything remembered by this process (tests)."""
    with _lock:
        _tokens.clear()
        _not_revoked.clear()
        _revoked.clear()
        _users.clear()


def _usable() -> bool:
    return not connection.in_atomic_block


def access_token(raw: str) -> AccessToken:
    """The verified access token ``raw`` (raises simplejwt's TokenError if invalid)."""
    token = _tokens.get(raw)
    if token is not None:
        leeway = api_settings.LEEWAY.total_seconds() if hasattr(api_settings.LEEWAY, "total_seconds") else 0
        if time.time() <= float(token["exp"]) + float(leeway):
            return token
        with _lock:
            _tokens.pop(raw, None)
    token = AccessToken(raw)  # type: ignore[arg-type]  # verifies signature, type and expiry
    _store(_tokens, raw, token)
    return token


def access_revoked(token: Token, request: Any, check: Any) -> bool:
    """Whether ``token`` was logged out; ``check(token)`` asks the shared denylist.

    A logout is never undone: a token found revoked (outside a transaction, which
    could roll back) is remembered as such without a version, so a logged-out token
    presented again costs no query."""
    jti = str(token.get(api_settings.JTI_CLAIM, ""))
    if jti in _revoked:
        return True
    usable = _usable()
    version = versions.current(AUTH_VERSION, request) if usable else None
    if version is not None:
        entry = _not_revoked.get(jti)
        if entry is not None and entry[0] == version and time.monotonic() < entry[1]:
            return False
    revoked = bool(check(token))
    if revoked and usable:
        _store(_revoked, jti, True)
    elif not revoked and version is not None:
        _store(_not_revoked, jti, (version, time.monotonic() + settings.AUTH_CACHE_SECONDS))
    return revoked


def user(user_id: Any, request: Any, load: Any) -> Any:
    """The user ``user_id`` (a private copy), from memory or ``load(user_id)``.

    ``load`` reads the row and the user's roles; it runs after the version is read."""
    version = versions.current(AUTH_VERSION, request) if _usable() else None
    if version is not None:
        entry = _users.get(user_id)
        if entry is not None and entry[0] == version and time.monotonic() < entry[1]:
            return private_copy(entry[2])
    loaded = load(user_id)
    if version is not None and settings.AUTH_CACHE_SECONDS > 0:
        _store(_users, user_id, (version, time.monotonic() + settings.AUTH_CACHE_SECONDS, loaded))
        return private_copy(loaded)
    return loaded


def private_copy(instance: Any) -> Any:
    """What ``copy.copy`` makes of a model instance (its fields, and its own state with
    its own cache of related rows), without the pickling round trip copy.copy takes
    for models (``__reduce__``, a model lookup by name, a version check): that was 5%
    of a JWT request's CPU (PERF P1). Anything else is copied by ``copy.copy``."""
    if not isinstance(instance, Model):
        return copy.copy(instance)
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__.update(instance.__getstate__())
    return clone
