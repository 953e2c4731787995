"""The API error envelope, and the one place that maps errors onto it.

Every 4xx/5xx on an API path has the body
``{"error": {"code", "message", "details", "request_id"}}``: DRF exceptions and
domain errors through ``api_exception_handler``, Django's own 404/500 through the
``handler*`` views, and any other non-JSON error response (405 from a plain view,
CSRF 403, ...) is rewritten by ``RequestContextMiddleware`` via ``envelope_response``.
"""

from __future__ import annotations

import logging
import sys
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from devskyy.core.context import current_request_id
from devskyy.core.logging import Throttled

logger = logging.getLogger(__name__)
_database_log = Throttled(logger, interval=30.0)

# The database refused, dropped or timed out the connection (or a statement): the
# request is fine, the moment is not. 503 tells clients and load balancers to retry.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 5

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class DomainError(Exception):
    """Base for errors raised by services; carries its own code and HTTP status.

    Services raise these without knowing about HTTP; the status is a hint used only
    by the API layer here.
    """

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (e.g. Retry-After) the API layer adds."""
        return {}


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"


class ServiceUnavailableError(DomainError):
    """An outside dependency (or a feature switched off) prevents the action."""

    status_code = 503
    code = "service_unavailable"


def code_for_status(status: int) -> str:
    return _CODES_BY_STATUS.get(status, "error" if status < 500 else "internal_error")


def error_body(status: int, message: str, *, code: str | None = None, details: Any = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code or code_for_status(status),
            "message": message,
            "details": details if details is not None else {},
            "request_id": current_request_id(),
        }
    }


def envelope_response(
    status: int, message: str | None = None, *, code: str | None = None, details: Any = None
) -> JsonResponse:
    if message is None:
        try:
            message = HTTPStatus(status).phrase + "."
        except ValueError:
            message = "Error."
    return JsonResponse(error_body(status, message, code=code, details=details), status=status)


def _drf_code(exc: drf_exceptions.APIException) -> str:
    if isinstance(exc, drf_exceptions.ValidationError):
        return "validation_error"
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return str(exc.default_code)


def database_unavailable_body(exc: BaseException) -> dict[str, Any]:
    """The envelope for a request that failed because the database could not serve it
    (connection refused or lost, statement timed out); logged once per interval."""
    _database_log.warning("database unavailable, answering 503: %s", type(exc).__name__)
    return error_body(
        503,
        "The database is unavailable; retry shortly.",
        code="database_unavailable",
        details={"retry_after": DATABASE_RETRY_AFTER_SECONDS},
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing the envelope; unknown exceptions fall to 500."""
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        set_rollback()  # as DRF does for the errors it handles, should a transaction be open
        return Response(
            database_unavailable_body(exc),
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.status_code, exc.message, code=exc.code, details=exc.details),
            status=exc.status_code,
            headers=exc.headers,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(413, "Request body is too large."), status=413)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        message = "Invalid input."
        details: Any = response.data
    elif isinstance(exc, drf_exceptions.APIException):
        message = str(exc.detail) if not isinstance(exc.detail, list | dict) else str(exc.default_detail)
        details = {}
    elif isinstance(exc, Http404):
        message, details = "Not found.", {}
    elif isinstance(exc, PermissionDenied):
        message, details = "You do not have permission to perform this action.", {}
    else:  # pragma: no cover - DRF handles only the types above
        message, details = str(exc), {}
    code = _drf_code(exc) if isinstance(exc, drf_exceptions.APIException) else code_for_status(response.status_code)
    response.data = error_body(response.status_code, str(message), code=code, details=details)
    return response


def is_api_path(path: str) -> bool:
    """Paths that speak JSON; admin, dashboard pages and static files speak HTML."""
    html_prefixes = ("/" + settings.ADMIN_URL, "/static/", "/media/", "/dashboard/", "/api/docs/", "/marketing/")
    return not path.startswith(html_prefixes)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return envelope_response(404, "No route matches this path.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        # Django calls this while handling the exception: a database outage raised
        # outside a DRF view (middleware, plain views) is a 503 too.
        exc = sys.exc_info()[1]
        if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
            response = JsonResponse(database_unavailable_body(exc), status=503)
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
            return response
        return envelope_response(500, "Internal server error; the request id identifies it in our logs.")
    from django.views.defaults import server_error

    return server_error(request)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return envelope_response(403, "Forbidden.")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception or PermissionDenied())


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return envelope_response(413, "Request body is too large.")
    if is_api_path(request.path):
        return envelope_response(400, "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception or Exception())
