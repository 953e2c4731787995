"""API keys for service clients: create, revoke, authenticate.

A key is ``<8-char prefix>.<32-char secret>``; only its SHA-512 hash is stored
(djangorestframework-api-key). It is shown once, at creation. Each key carries one
role and authenticates requests like a user holding that role.

Verified keys are remembered per process (PERF P1: the database lookup was the
largest cost of an authenticated request), keyed by prefix and the SHA-512 of the
whole key, with the ``auth`` version (devskyy/core/versions.py) read *before* the
database row was. A remembered key is used only while that version is current, and
for at most API_KEY_CACHE_SECONDS. Revoking a key (or any change to a key row) bumps
the version after commit, so from the next request on every process reads the row
again and refuses the key: revocation stays immediate. Redis unreachable: the
version is unknown and every request reads the database. Inside a transaction
nothing is remembered or served. On /api/ requests the version comes with the rate
limiter's round trip, so a remembered key costs no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from devskyy.core import versions
from devskyy.core.audit import audit_record
from devskyy.core.errors import DomainError, NotFoundError
from devskyy.core.models import APIKey
from devskyy.core.roles import Role

_API_KEY_SCHEME = "api-key"
_CACHE_ATTR = "_devskyy_api_key"
_REMEMBERED_ATTR = "_devskyy_api_key_remembered"  # (raw key, _Verified) found by the limiter
AUTH_VERSION = versions.AUTH
_MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class _Verified:
    digest: bytes  # SHA-512 of the whole key
    api_key: APIKey
    version: int  # the auth version read before the row was
    until: float  # monotonic


_verified: dict[str, _Verified] = {}
_verified_lock = threading.Lock()


class APIKeyRejectedError(DomainError):
    status_code = 401
    code = "invalid_api_key"


@dataclass(frozen=True)
class CreatedAPIKey:
    api_key: APIKey
    key: str  # the plaintext, to show once; never stored or logged


def key_owner(principal: object) -> str:
    """The API key prefix of a key-authenticated principal ("" for users): what owns the
    tasks and workflow runs such a caller creates (they have no user row)."""
    return principal.api_key.prefix if isinstance(principal, APIKeyPrincipal) else ""


class APIKeyPrincipal:
    """``request.user`` for a request authenticated by an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: APIKey) -> None:
        self.api_key = api_key
        self.roles = frozenset({Role(api_key.role)})

    @property
    def audit_label(self) -> str:
        return f"api_key:{self.api_key.prefix}"

    @property
    def username(self) -> str:
        return self.audit_label

    def get_username(self) -> str:
        return self.audit_label

    def __str__(self) -> str:
        return f"API key {self.api_key.name} ({self.api_key.prefix})"


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 50:
        raise DomainError("An API key needs a name of 1 to 50 characters.", code="validation_error")
    return name


@transaction.atomic
def api_key_create(*, name: str, role: str, expires_days: int | None = None, actor: Any = None) -> CreatedAPIKey:
    """Create a key for ``role``; the plaintext is returned once."""
    name = _validate_name(name)
    try:
        parsed_role = Role(role)
    except ValueError:
        raise DomainError(
            f"Unknown role {role!r}; one of {', '.join(r.value for r in Role)}.", code="validation_error"
        ) from None
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise DomainError("expires_days must be between 1 and 3650.", code="validation_error")
    expiry = timezone.now() + timedelta(days=expires_days) if expires_days else None
    created_by = actor if getattr(actor, "pk", None) is not None else None
    api_key, key = APIKey.objects.create_key(
        name=name, role=parsed_role.value, expiry_date=expiry, created_by=created_by
    )
    assert isinstance(api_key, APIKey)  # noqa: S101 - narrows the library's AbstractAPIKey for mypy
    audit_record(
        action="api_key.created",
        actor=actor,
        target_type="api_key",
        target_id=api_key.prefix,
        details={"name": name, "role": parsed_role.value, "expires_at": expiry.isoformat() if expiry else None},
    )
    return CreatedAPIKey(api_key=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, prefix: str, actor: Any = None) -> APIKey:
    """Revoke a key for good; requests with it fail from the next one on."""
    api_key: APIKey | None = APIKey.objects.select_for_update().filter(prefix=prefix).first()
    if api_key is None:
        raise NotFoundError(f"No API key with prefix {prefix!r}.")
    if not api_key.revoked:
        api_key.revoked = True
        api_key.save(update_fields=["revoked"])  # bumps the auth version (core/receivers.py)
        audit_record(
            action="api_key.revoked",
            actor=actor,
            target_type="api_key",
            target_id=api_key.prefix,
            details={"name": api_key.name},
        )
    return api_key


def api_key_touch(*, api_key: APIKey) -> None:
    """Refresh ``last_used_at`` at most once per resolution window (one conditional UPDATE)."""
    now = timezone.now()
    window = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is not None and now - api_key.last_used_at < window:
        return
    APIKey.objects.filter(pk=api_key.pk).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - window)).update(
        last_used_at=now
    )
    api_key.last_used_at = now


def raw_key_from_request(request: HttpRequest) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Api-Key <key>``, if any."""
    return raw_key_from_meta(request.META)


def raw_key_from_meta(meta: Mapping[str, Any]) -> str | None:
    """:func:`raw_key_from_request` from a WSGI environ (``request.META``)."""
    header = meta.get(settings.API_KEY_CUSTOM_HEADER)
    if header:
        return str(header).strip() or None
    authorization = str(meta.get("HTTP_AUTHORIZATION", ""))
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == _API_KEY_SCHEME:
        return value.strip() or None
    return None


def _digest(raw: str) -> bytes:
    return hashlib.sha512(raw.encode()).digest()


def _remembered(raw: str) -> _Verified | None:
    """This process's verified copy of the key ``raw``, if any (no I/O, no version check)."""
    prefix, _, _ = raw.partition(".")
    entry = _verified.get(prefix)
    if entry is None or time.monotonic() >= entry.until or entry.api_key.has_expired:
        return None
    if not hmac.compare_digest(entry.digest, _digest(raw)):
        return None
    return entry


def _remembered_for(raw: str, request: HttpRequest | None) -> _Verified | None:
    """:func:`_remembered`, once per request: the rate limiter's identity found it
    first (the key's digest is computed once)."""
    if request is not None:
        found = request.__dict__.get(_REMEMBERED_ATTR)
        if found is not None and found[0] == raw:
            entry: _Verified = found[1]
            return entry
    return _remembered(raw)


def forget_verified() -> None:
    """Drop every remembered key of this process (tests)."""
    with _verified_lock:
        _verified.clear()


def api_key_authenticate(raw: str, request: HttpRequest | None = None) -> APIKey:
    """The usable key matching ``raw``, or ``APIKeyRejectedError``.

    Served from this process's verified copy while the ``auth`` version it was
    verified at is current (module docstring); otherwise read from the database, so a
    revocation is effective for the very next request."""
    prefix, dot, secret = raw.partition(".")
    if not dot or not prefix or not secret or len(raw) > 200:
        raise APIKeyRejectedError("Malformed API key.")
    # Read before the row. Inside a transaction (which may hold its own uncommitted
    # change to the row, and may roll back) nothing is remembered or served.
    version = None if connection.in_atomic_block else versions.current(AUTH_VERSION, request)
    entry = _remembered_for(raw, request)
    if entry is not None and version is not None and entry.version == version:
        api_key_touch(api_key=entry.api_key)
        return entry.api_key
    api_key: APIKey | None = APIKey.objects.filter(prefix=prefix).first()
    if api_key is None or not api_key.is_valid(raw):
        raise APIKeyRejectedError("Invalid API key.")
    if api_key.revoked:
        raise APIKeyRejectedError("This API key has been revoked.", code="api_key_revoked")
    if api_key.has_expired:
        raise APIKeyRejectedError("This API key has expired.", code="api_key_expired")
    api_key_touch(api_key=api_key)
    lifetime = settings.API_KEY_CACHE_SECONDS
    with _verified_lock:
        if version is None or lifetime <= 0:
            _verified.pop(prefix, None)
        else:
            if len(_verified) >= _MAX_REMEMBERED:
                _verified.clear()
            _verified[prefix] = _Verified(_digest(raw), api_key, version, time.monotonic() + lifetime)
    return api_key


def api_key_for_request(request: HttpRequest) -> APIKey | APIKeyRejectedError | None:
    """Authenticate the request's API key once per request (the rate limiter and DRF
    both ask); None when the request carries no key."""
    if _CACHE_ATTR in request.__dict__:  # not hasattr: a miss raises and catches an AttributeError
        cached: APIKey | APIKeyRejectedError | None = request.__dict__[_CACHE_ATTR]
        return cached
    raw = raw_key_from_request(request)
    result: APIKey | APIKeyRejectedError | None
    if raw is None:
        result = None
    else:
        try:
            result = api_key_authenticate(raw, request)
        except APIKeyRejectedError as exc:
            result = exc
    setattr(request, _CACHE_ATTR, result)
    return result


def remembered_key_prefix(raw: str) -> str | None:
    """The prefix of ``raw`` if this process verified the key before (no I/O): the rate
    limiter's identity on the event loop, where the database is out of reach. DRF's
    authentication still checks the key against the ``auth`` version before the view."""
    entry = _remembered(raw)
    return None if entry is None else entry.api_key.prefix


def api_key_identity(request: HttpRequest) -> str | None:
    """The prefix of the request's key if it is valid, for the rate limiter's bucket.

    A key this process verified before counts at once, without reading the ``auth``
    version (the limiter's own round trip reads it; DRF's authentication then checks
    it before the view runs). Any other key is authenticated in full here."""
    raw = raw_key_from_request(request)
    if raw is None:
        return None
    entry = None if connection.in_atomic_block else _remembered(raw)
    if entry is not None:
        request.__dict__[_REMEMBERED_ATTR] = (raw, entry)  # for DRF's authentication
        return entry.api_key.prefix
    result = api_key_for_request(request)
    if result is None or isinstance(result, APIKeyRejectedError):
        return None
    return result.prefix
