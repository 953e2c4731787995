"""Capability endpoints: code scanning/fixing, ML predictions, WordPress. Parse, call, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.api.capabilities_serializers import (
    CodeSubmissionSerializer,
    FixReportSerializer,
    PredictInputSerializer,
    PredictionOutputSerializer,
    ScanReportSerializer,
)
from agents_app.capabilities.code_analysis import SourceFile, fix_sources, scan_sources
from agents_app.capabilities.ml import predict
from devskyy.core.roles import Role

# Running the analyser costs a subprocess of up to 20 s: the roles whose work is code
# (developers, service clients such as CI, admins). Operators run the shop, not code.
CODE_ROLES = frozenset({Role.ADMIN, Role.DEVELOPER, Role.API_USER})


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
        responses={200: PredictionOutputSerializer},
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
