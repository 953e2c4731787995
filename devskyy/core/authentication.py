"""DRF authentication: JWT bearer tokens, API keys, and the login lockout response.

DRF imports these classes while ``rest_framework.views`` itself is being imported
(its settings resolve DEFAULT_AUTHENTICATION_CLASSES), so the services they use are
imported inside the methods: a module-level import would be circular.
"""

from __future__ import annotations

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


class JWTAuthentication(_SimpleJWTAuthentication):
    """``Authorization: Bearer <access token>``; also refuses logged-out access tokens."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        from devskyy.core.tokens import access_token_revoked

        token = super().get_validated_token(raw_token)
        if access_token_revoked(token):
            raise InvalidToken("Token has been revoked (logged out).")
        return token


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
