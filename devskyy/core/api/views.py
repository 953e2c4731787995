"""Auth, API key and audit endpoints: parse, call a service or selector, render."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import Token

from devskyy.core import api_keys, selectors, tokens
from devskyy.core.api import serializers as s
from devskyy.core.api_keys import APIKeyPrincipal
from devskyy.core.models import APIKey, AuditLog
from devskyy.core.permissions import PublicRoutePermission
from devskyy.core.roles import ADMIN_ROLES, AUDIT_READ_ROLES, roles_of

_ERROR = s.ErrorEnvelopeSerializer


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(_ERROR) for code in codes}


def _bearer(request: Request) -> str | None:
    scheme, _, value = str(request.META.get("HTTP_AUTHORIZATION", "")).partition(" ")
    return value.strip() or None if scheme == "Bearer" else None


def _pair_body(pair: tokens.TokenPair) -> dict[str, Any]:
    return s.TokenPairOutputSerializer(
        {
            "access": pair.access,
            "refresh": pair.refresh,
            "token_type": "Bearer",
            "access_expires_at": pair.access_expires_at,
            "refresh_expires_at": pair.refresh_expires_at,
        }
    ).data


class PublicAPIView(APIView):
    """No credentials read (a stale token must not make a public route fail)."""

    authentication_classes: list[Any] = []
    permission_classes = [PublicRoutePermission]


class TokenObtainView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        summary="Log in: username and password for an access/refresh token pair",
        request=s.TokenObtainInputSerializer,
        responses={200: s.TokenPairOutputSerializer, **_errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = s.TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = tokens.token_obtain(request=request._request, **data.validated_data)
        return Response(_pair_body(pair))


class TokenRefreshView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        summary="Trade a refresh token for a new pair (the old refresh token dies)",
        request=s.RefreshInputSerializer,
        responses={200: s.TokenPairOutputSerializer, **_errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = s.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = tokens.token_refresh(raw=data.validated_data["refresh"], request=request._request)
        return Response(_pair_body(pair))


class LogoutView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        summary="Log out: blacklist the refresh token (and deny the bearer access token sent along)",
        request=s.RefreshInputSerializer,
        responses={204: None, **_errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = s.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens.token_logout(
            raw_refresh=data.validated_data["refresh"], raw_access=_bearer(request), request=request._request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _token_expiry(request: Request) -> datetime | None:
    auth = request.auth
    if isinstance(auth, Token):
        return datetime.fromtimestamp(int(auth["exp"]), tz=UTC)
    if isinstance(auth, APIKey):
        return auth.expiry_date
    return None


class MeView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Who am I: the caller, its roles and when its credential expires",
        responses={200: s.MeOutputSerializer, **_errors(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        principal = request.user
        roles = sorted(role.value for role in roles_of(principal))
        if isinstance(principal, APIKeyPrincipal):
            key = principal.api_key
            body: dict[str, Any] = {
                "user": None,
                "api_key": {"prefix": key.prefix, "name": key.name, "expires_at": key.expiry_date},
                "auth_method": "api_key",
            }
        else:
            body = {
                "user": {
                    "id": principal.pk,
                    "username": principal.get_username(),
                    "email": getattr(principal, "email", ""),
                },
                "api_key": None,
                "auth_method": "jwt" if isinstance(request.auth, Token) else "session",
            }
        body["roles"] = roles
        body["token_expires_at"] = _token_expiry(request)
        return Response(s.MeOutputSerializer(body).data)


class APIKeyListCreateView(generics.GenericAPIView[APIKey]):
    read_roles = ADMIN_ROLES
    write_roles = ADMIN_ROLES
    serializer_class = s.APIKeyOutputSerializer  # type: ignore[assignment]

    def get_queryset(self) -> Any:
        return selectors.api_key_list()

    @extend_schema(tags=["auth"], summary="List API keys (admin)", responses={200: s.APIKeyOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.APIKeyOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=["auth"],
        summary="Create an API key (admin); the key is in this response only",
        request=s.APIKeyCreateInputSerializer,
        responses={201: s.APIKeyCreatedOutputSerializer, **_errors(400, 401, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        data = s.APIKeyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = api_keys.api_key_create(**data.validated_data, actor=request.user)
        body = dict(s.APIKeyOutputSerializer(created.api_key).data)
        body["key"] = created.key
        return Response(s.APIKeyCreatedOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class APIKeyRevokeView(APIView):
    read_roles = ADMIN_ROLES
    write_roles = ADMIN_ROLES

    @extend_schema(
        tags=["auth"],
        summary="Revoke an API key (admin); effective for the next request",
        request=None,
        responses={200: s.APIKeyOutputSerializer, **_errors(401, 403, 404, 429)},
    )
    def post(self, request: Request, prefix: str) -> Response:
        api_key = api_keys.api_key_revoke(prefix=prefix, actor=request.user)
        return Response(s.APIKeyOutputSerializer(api_key).data)


class AuditLogListView(generics.GenericAPIView[AuditLog]):
    read_roles = AUDIT_READ_ROLES
    write_roles = ADMIN_ROLES
    serializer_class = s.AuditLogOutputSerializer  # type: ignore[assignment]

    def get_queryset(self) -> Any:
        return selectors.audit_log_list(
            action=self.request.query_params.get("action") or None,
            actor_label=self.request.query_params.get("actor") or None,
        )

    @extend_schema(
        tags=["audit"],
        summary="The audit trail, newest first (admin, operator)",
        parameters=[
            OpenApiParameter("action", str, description="exact action, e.g. auth.login.failed"),
            OpenApiParameter("actor", str, description="exact actor label, e.g. user:alice"),
        ],
        responses={200: s.AuditLogOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.AuditLogOutputSerializer(page, many=True).data)
