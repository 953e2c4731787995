"""OpenAPI generation (drf-spectacular): our authentication classes, and the error
responses every operation can give, documented with the error envelope.

A view documents its own success responses and the domain errors only it raises
(409, 503, ...) with ``extend_schema``; :class:`APIAutoSchema` adds the errors the
platform itself produces on any API path, each only where it can happen, unless the
view already declared that status:

* 400 ``validation_error``/``bad_request``: operations with a request body or query parameters;
* 401 and 403: operations that need credentials (every route not listed public);
* 404: operations with path parameters (the object does not exist, or is not yours);
* 413 (body over the limit) and 415 (not JSON): operations with a request body;
* 429: every operation (rate limits apply to every API path).

Found by fuzzing the schema (tests/reliability/test_fuzzing.py): without these, the
schema promised 200 only while the API rightly answered 404 or 400.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "devskyy.core.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "devskyy.core.authentication.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class APIAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the platform's error responses (see module doc)."""

    def _platform_error_codes(self) -> list[int]:
        from devskyy.core.permissions import PublicRoutePermission

        has_body = self.method in _BODY_METHODS
        has_query = any(param.get("in") == "query" for param in self._get_parameters())
        public = any(
            isinstance(cls, type) and issubclass(cls, PublicRoutePermission)
            for cls in getattr(self.view, "permission_classes", [])
        )
        codes = []
        if has_body or has_query:
            codes.append(400)
        if not public:
            codes += [401, 403]
        if "{" in self.path:
            codes.append(404)
        if has_body:
            codes += [413, 415]
        codes.append(429)
        return codes

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        from devskyy.core.api.serializers import ErrorEnvelopeSerializer

        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self._platform_error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    OpenApiResponse(ErrorEnvelopeSerializer), str(code), direction=direction
                )
        return responses


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Responses with the error envelope for ``codes``, for a view's ``extend_schema``
    (the domain errors only that operation raises: 409, 422, 503, ...)."""
    from devskyy.core.api.serializers import ErrorEnvelopeSerializer

    return {code: OpenApiResponse(ErrorEnvelopeSerializer) for code in codes}
