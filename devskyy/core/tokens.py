"""JWT sessions: log in, refresh with rotation and reuse detection, log out.

Access tokens are short-lived (JWT_ACCESS_MINUTES) and checked by signature; a
logged-out access token is also refused until it would have expired (a denylist in
the database, ``RevokedAccessToken``: it outlives a Redis restart that lost its data
and is known while Redis is away; each process remembers "not logged out" per token
only while the ``auth`` version holds, core/principal_cache.py). Refresh tokens
(JWT_REFRESH_DAYS) are single-use: each refresh blacklists the presented token and
issues a new one. Presenting a blacklisted refresh token again is *reuse*: someone
holds a copy. It is refused, counted as the security event ``refresh_reuse``, and
every refresh token of that user is revoked, so whoever holds the copy is logged out
too (the user logs in again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from devskyy.core import versions
from devskyy.core.audit import audit_record, security_event
from devskyy.core.errors import DomainError
from devskyy.core.metrics import SecurityEvent
from devskyy.core.models import RevokedAccessToken

logger = logging.getLogger(__name__)


class InvalidCredentialsError(DomainError):
    status_code = 401
    code = "invalid_credentials"


class InvalidRefreshTokenError(DomainError):
    status_code = 401
    code = "token_not_valid"


class LoginLockedError(DomainError):
    status_code = 429
    code = "login_locked"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime


def _expiry(token: Token) -> datetime:
    return datetime.fromtimestamp(int(token["exp"]), tz=UTC)


def _pair_for(user: AbstractBaseUser) -> TokenPair:
    refresh = RefreshToken.for_user(user)  # also records it as outstanding
    access = refresh.access_token
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_at=_expiry(access),
        refresh_expires_at=_expiry(refresh),
    )


def lockout_seconds() -> int:
    from django.conf import settings

    return int(settings.LOGIN_LOCKOUT_MINUTES) * 60


def token_obtain(*, request: HttpRequest, username: str, password: str) -> TokenPair:
    """Check the password (django-axes refuses locked-out username/IP pairs first) and
    issue an access/refresh pair. Failures are audited by the login-failed receiver."""
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LoginLockedError("Too many failed logins: try again later.", retry_after=lockout_seconds())
    if user is None:
        raise InvalidCredentialsError("Wrong username or password, or the account is inactive.")
    pair = _pair_for(user)
    user_model = get_user_model()
    user_model.objects.filter(pk=user.pk).update(last_login=timezone.now())
    audit_record(action="auth.login.succeeded", actor=user, request=request, details={"method": "jwt"})
    return pair


def _payload_ignoring_blacklist(raw: str) -> dict[str, Any] | None:
    """Signature, issuer and expiry checked; blacklist not consulted."""
    try:
        payload: dict[str, Any] = token_backend.decode(raw, verify=True)  # type: ignore[arg-type]
    except TokenBackendError:
        return None
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != "refresh" or api_settings.JTI_CLAIM not in payload:
        return None
    return payload


def _revoke_all_refresh_tokens(user_id: Any) -> int:
    revoked = 0
    with transaction.atomic():
        live = OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=timezone.now()).exclude(
            blacklistedtoken__isnull=False
        )
        for outstanding in live:
            _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
            revoked += int(created)
    return revoked


def _user_for_refresh(payload: dict[str, Any]) -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model.objects.filter(**{api_settings.USER_ID_FIELD: payload.get(api_settings.USER_ID_CLAIM)}).first()
    if user is None or not user.is_active:
        raise InvalidRefreshTokenError("No active account for this token.")
    if api_settings.CHECK_REVOKE_TOKEN and payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        raise InvalidRefreshTokenError("The password changed since this token was issued.")
    return user


class _ReusedError(Exception):
    pass


def token_refresh(*, raw: str, request: HttpRequest | None = None) -> TokenPair:
    """Trade a refresh token for a new pair; the presented token can never be used again."""
    payload = _payload_ignoring_blacklist(raw)
    if payload is None:
        raise InvalidRefreshTokenError("Refresh token is invalid or expired.")
    jti = payload[api_settings.JTI_CLAIM]
    try:
        with transaction.atomic():
            # The row lock serialises two concurrent refreshes of the same token: the
            # second sees the first one's blacklist entry and counts as reuse.
            outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).first()
            if outstanding is None:
                raise InvalidRefreshTokenError("Refresh token is unknown.")
            if BlacklistedToken.objects.filter(token=outstanding).exists():
                raise _ReusedError
            user = _user_for_refresh(payload)
            try:
                with transaction.atomic():
                    BlacklistedToken.objects.create(token=outstanding)
            except IntegrityError:
                raise _ReusedError from None
            return _pair_for(user)
    except _ReusedError:
        user_id = payload.get(api_settings.USER_ID_CLAIM)
        revoked = _revoke_all_refresh_tokens(user_id)
        reused_by = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        security_event(
            event_type=SecurityEvent.REFRESH_REUSE,
            request=request,
            actor=reused_by,
            target_type="user",
            target_id=str(user_id),
            details={"jti": jti, "refresh_tokens_revoked": revoked},
        )
        raise InvalidRefreshTokenError(
            "This refresh token was already used; every session of this account was ended. Log in again.",
            code="token_reused",
        ) from None


def revoke_access_token(token: Token) -> None:
    """Refuse this access token from now until it would have expired."""
    with transaction.atomic():
        _deny_access(token)


def _deny_access(token: Token) -> None:
    """Inside the caller's transaction: the token's row, and the ``auth`` version bump
    after commit (processes stop trusting "not logged out", core/principal_cache.py)."""
    now = timezone.now()
    expires_at = datetime.fromtimestamp(int(token["exp"]), tz=UTC)
    if expires_at <= now:
        return
    # Tokens that have expired by themselves need no row: the table holds at most one
    # access lifetime (JWT_ACCESS_MINUTES) of logouts.
    RevokedAccessToken.objects.filter(expires_at__lte=now).delete()
    RevokedAccessToken.objects.get_or_create(
        jti=str(token[api_settings.JTI_CLAIM]),
        defaults={"expires_at": expires_at, "user_id": str(token.get(api_settings.USER_ID_CLAIM, ""))},
    )
    versions.bump(versions.AUTH)


def access_token_revoked(token: Token) -> bool:
    return RevokedAccessToken.objects.filter(jti=str(token.get(api_settings.JTI_CLAIM, ""))).exists()


def token_logout(*, raw_refresh: str, raw_access: str | None = None, request: HttpRequest | None = None) -> None:
    """Blacklist the refresh token (and deny the access token sent with it, if any)."""
    try:
        refresh = RefreshToken(raw_refresh)  # type: ignore[arg-type]  # verifies signature and expiry, refuses blacklisted
    except TokenError:
        raise InvalidRefreshTokenError("Refresh token is invalid, expired or already revoked.") from None
    user_id = refresh.get(api_settings.USER_ID_CLAIM)
    access: AccessToken | None = None
    if raw_access:
        try:
            access = AccessToken(raw_access)  # type: ignore[arg-type]
        except TokenError:
            access = None  # an expired or foreign access token needs no revocation
        if access is not None and access.get(api_settings.USER_ID_CLAIM) != user_id:
            access = None  # another user's token is not this logout's to end
    # One transaction: the refresh token is blacklisted and the access token denied
    # together, or neither.
    with transaction.atomic():
        refresh.blacklist()
        if access is not None:
            _deny_access(access)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        audit_record(action="auth.logout", actor=user, request=request, target_type="user", target_id=str(user_id))
