"""DRF authentication: JWT bearer tokens, API keys, and the login lockout response.

DRF imports these classes while ``rest_framework.views`` itself is being imported
(its settings resolve DEFAULT_AUTHENTICATION_CLASSES), so the services they use are
imported inside the methods: a module-level import would be circular.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

if TYPE_CHECKING:
    from devskyy.core.api_keys import APIKeyPrincipal
    from devskyy.core.models import APIKey


@functools.lru_cache(maxsize=4096)
def _password_digest(password: str) -> str:
    """simplejwt's digest of a stored password hash, computed once per hash (not secret:
    it is a digest of the hash, carried in every token; 1.3% of a JWT request's CPU)."""
    from rest_framework_simplejwt.utils import get_md5_hash_password

    return get_md5_hash_password(password)


class JWTAuthentication(_SimpleJWTAuthentication):
    """``Authorization: Bearer <access token>``; also refuses logged-out access tokens.

    Verified tokens, "not logged out" answers and users with their roles are
    remembered per process while the ``auth`` version holds
    (devskyy/core/principal_cache.py): a repeated request reads no database row.
    """

    _request: Request | None = None

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        self._request = request  # DRF makes one authenticator per request
        return super().authenticate(request)

    def get_validated_token(self, raw_token: bytes) -> Token:
        from rest_framework_simplejwt.exceptions import TokenError

        from devskyy.core import principal_cache
        from devskyy.core.tokens import access_token_revoked

        token: Token
        try:
            token = principal_cache.access_token(raw_token.decode("latin-1"))
        except TokenError:
            token = super().get_validated_token(raw_token)  # raises with simplejwt's detail
        if principal_cache.access_revoked(token, self._request, access_token_revoked):
            raise InvalidToken("Token has been revoked (logged out).")
        return token

    def get_user(self, validated_token: Token) -> Any:
        from rest_framework_simplejwt.settings import api_settings

        from devskyy.core import principal_cache
        from devskyy.core.roles import roles_of

        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken("Token contained no recognizable user identification") from None

        def load(pk: Any) -> Any:
            try:
                user = self.user_model.objects.get(**{api_settings.USER_ID_FIELD: pk})
            except self.user_model.DoesNotExist:
                raise AuthenticationFailed("User not found", code="user_not_found") from None
            roles_of(user)  # read the roles now: they are remembered with the user
            return user

        user = principal_cache.user(user_id, self._request, load)
        # Checked on every use, remembered user or not (simplejwt's own checks).
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(api_settings.REVOKE_TOKEN_CLAIM) != _password_digest(
            user.password
        ):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user


class APIKeyAuthentication(authentication.BaseAuthentication):
    """``X-API-Key: <key>`` or ``Authorization: Api-Key <key>``.

    ``request.user`` becomes an ``APIKeyPrincipal`` holding the key's role;
    ``request.auth`` is the ``APIKey`` row.
    """

    def authenticate(self, request: Request) -> tuple[APIKeyPrincipal, APIKey] | None:
        from devskyy.core.api_keys import APIKeyPrincipal, APIKeyRejectedError, api_key_for_request

        result = api_key_for_request(request._request)
        if result is None:
            return None
        if isinstance(result, APIKeyRejectedError):
            raise AuthenticationFailed(result.message, code=result.code)
        return APIKeyPrincipal(result), result

    def authenticate_header(self, request: Request) -> str:
        return 'Api-Key realm="api"'


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' lockout answer: the API envelope on API paths, plain text elsewhere."""
    from devskyy.core.errors import envelope_response, is_api_path
    from devskyy.core.tokens import lockout_seconds

    django_request: HttpRequest = getattr(request, "_request", request)
    seconds = lockout_seconds()
    message = "Too many failed logins: try again later."
    response: HttpResponse
    if is_api_path(django_request.path):
        response = envelope_response(429, message, code="login_locked", details={"retry_after": seconds})
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
