"""Capability endpoints: code scanning/fixing, ML predictions, WordPress. Parse, call, render."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.api.capabilities_serializers import (
    CodeSubmissionSerializer,
    FixReportSerializer,
    PredictInputSerializer,
    PredictionOutputSerializer,
    PublishInputSerializer,
    ScanReportSerializer,
    ThemeInputSerializer,
    ThemeOutputSerializer,
)
from agents_app.api.serializers import TaskOutputSerializer
from agents_app.api.views import IDEMPOTENCY_HEADER, _created_response, _idempotency_key
from agents_app.capabilities import theme
from agents_app.capabilities.code_analysis import SourceFile, fix_sources, scan_sources
from agents_app.capabilities.ml import predict
from agents_app.services.tasks import task_create
from devskyy.core.errors import NotFoundError
from devskyy.core.roles import Role
from devskyy.core.schema import error_responses
from devskyy.core.storage import stored_file_response

# Running the analyser costs a subprocess of up to 20 s: the roles whose work is code
# (developers, service clients such as CI, admins). Operators run the shop, not code.
CODE_ROLES = frozenset({Role.ADMIN, Role.DEVELOPER, Role.API_USER})
# The catalog's Publishing Agent: WordPress publishing runs as its task.
PUBLISHING_AGENT = "operations-008"


def _files(request: Request) -> list[SourceFile]:
    data = CodeSubmissionSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return [SourceFile(name=f["name"], content=f["content"]) for f in data.validated_data["files"]]


class CodeScanView(APIView):
    write_roles = CODE_ROLES

    @extend_schema(
        request=CodeSubmissionSerializer,
        responses=ScanReportSerializer,
        summary="Scan submitted Python files with ruff's lint and security rules",
    )
    def post(self, request: Request) -> Response:
        return Response(scan_sources(_files(request)).as_dict())


class CodeFixView(APIView):
    write_roles = CODE_ROLES

    @extend_schema(
        request=CodeSubmissionSerializer,
        responses=FixReportSerializer,
        summary="Apply ruff's safe fixes: fixed source and a unified diff per file",
    )
    def post(self, request: Request) -> Response:
        return Response(fix_sources(_files(request)).as_dict())


class PredictView(APIView):
    @extend_schema(
        request=PredictInputSerializer,
        responses={200: PredictionOutputSerializer, **error_responses(422)},
        summary="Run an ML model on the shop's data (default) or on the data given; 422 when too few data",
    )
    def post(self, request: Request) -> Response:
        data = PredictInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            predict(
                model_type=v["model_type"],
                data=v["data"],
                parameters=v["parameters"],
                confidence_threshold=v["confidence_threshold"],
            )
        )


class ThemeGenerateView(APIView):
    @extend_schema(
        request=ThemeInputSerializer,
        responses={201: ThemeOutputSerializer},
        summary="Build an installable block theme zip (palette, fonts, WooCommerce templates) for download",
    )
    def post(self, request: Request) -> Response:
        data = ThemeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        generated = theme.theme_generate(spec=theme.spec_from_input(dict(data.validated_data)), request=request)
        return Response(generated.as_dict(), status=201)


class ThemeDownloadView(APIView):
    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY}, summary="Download a generated theme")
    def get(self, request: Request, theme_id: str) -> FileResponse:
        path, filename = theme.theme_file(str(theme_id))
        try:
            return stored_file_response(path, filename=filename)
        except FileNotFoundError:  # removed between the listing and the read
            raise NotFoundError("No generated theme with this id.", details={"id": theme_id}) from None


class WordPressPublishView(APIView):
    @extend_schema(
        request=PublishInputSerializer,
        responses={202: TaskOutputSerializer, 200: TaskOutputSerializer, **error_responses(409, 503)},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Publish or update a post/page (or a product's page) on WordPress as a queued task",
    )
    def post(self, request: Request) -> Response:
        data = PublishInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        if "sku" in params:
            action = "wordpress_publish_product"
        elif "id" in params:
            action = "wordpress_update"
        else:
            action = "wordpress_publish"
        created = task_create(
            agent_slug=PUBLISHING_AGENT,
            action=action,
            parameters=params,
            user=request.user,
            idempotency_key=_idempotency_key(request),
        )
        return _created_response(created)
