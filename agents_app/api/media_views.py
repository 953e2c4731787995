"""3D generation and virtual try-on endpoints: parse, call a selector or service, render."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.api.media_serializers import (
    ImageToModelInputSerializer,
    MediaJobFilterSerializer,
    MediaJobOutputSerializer,
    TextToModelInputSerializer,
    TryOnInputSerializer,
)
from agents_app.api.views import IDEMPOTENCY_HEADER, _idempotency_key
from agents_app.media import selectors, services
from agents_app.media.models import MediaKind, MediaProvider
from devskyy.core.pagination import CursorPagination  # a malformed cursor is a 400, not a 404
from devskyy.core.schema import error_responses

MODEL_KINDS = (MediaKind.TEXT_TO_MODEL, MediaKind.IMAGE_TO_MODEL)
TRYON_KINDS = (MediaKind.TRYON,)
# 503: ENABLE_3D_GENERATION off (feature_disabled) or the provider's key missing (provider_not_configured).
_CREATE_RESPONSES = {202: MediaJobOutputSerializer, 200: MediaJobOutputSerializer, **error_responses(503)}


class MediaJobCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def _created(created: services.CreatedJob) -> Response:
    body = MediaJobOutputSerializer(created.job).data
    response = Response(body, status=202 if created.created else 200)
    response["Location"] = body["status_url"]
    if not created.created:
        response["Idempotent-Replayed"] = "true"
    return response


def _list(request: Request, view: APIView, kinds: tuple[str, ...]) -> Response:
    filters = MediaJobFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    qs = selectors.media_job_list(
        principal=request.user,
        kinds=kinds,
        status=filters.validated_data.get("status"),
        product_id=filters.validated_data.get("product_id"),
    )
    paginator = MediaJobCursorPagination()
    page = paginator.paginate_queryset(qs, request, view=view) or []
    return paginator.get_paginated_response(MediaJobOutputSerializer(page, many=True).data)


_LIST_PARAMS: list[Any] = [
    MediaJobFilterSerializer,
    OpenApiParameter("cursor", OpenApiTypes.STR),
    OpenApiParameter("limit", OpenApiTypes.INT),
]


class TextToModelView(APIView):
    @extend_schema(
        request=TextToModelInputSerializer,
        responses=_CREATE_RESPONSES,
        parameters=[IDEMPOTENCY_HEADER],
        summary="Start a Tripo text-to-3D job (202); 503 when switched off or no TRIPO_API_KEY",
    )
    def post(self, request: Request) -> Response:
        services.ensure_available(MediaProvider.TRIPO)
        data = TextToModelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return _created(
            services.text_to_model_create(
                prompt=v["prompt"],
                options=v["options"],
                product_id=v.get("product_id"),
                principal=request.user,
                idempotency_key=_idempotency_key(request),
                request=request,
            )
        )


class ImageToModelView(APIView):
    @extend_schema(
        request=ImageToModelInputSerializer,
        responses=_CREATE_RESPONSES,
        parameters=[IDEMPOTENCY_HEADER],
        summary="Start a Tripo image-to-3D job from an image URL or a product's image (202)",
    )
    def post(self, request: Request) -> Response:
        services.ensure_available(MediaProvider.TRIPO)
        data = ImageToModelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return _created(
            services.image_to_model_create(
                image_url=v.get("image_url"),
                options=v["options"],
                product_id=v.get("product_id"),
                principal=request.user,
                idempotency_key=_idempotency_key(request),
                request=request,
            )
        )


class ModelJobListView(APIView):
    pagination_class = MediaJobCursorPagination  # the page shape in the schema, and the pages

    @extend_schema(
        parameters=_LIST_PARAMS,
        responses=MediaJobOutputSerializer(many=True),
        summary="Your 3D jobs (staff: all), newest first",
    )
    def get(self, request: Request) -> Response:
        return _list(request, self, MODEL_KINDS)


class ModelJobDetailView(APIView):
    @extend_schema(responses=MediaJobOutputSerializer, summary="A 3D job: status, progress, cost, files")
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.media_job_get_visible(principal=request.user, job_id=str(job_id), kinds=MODEL_KINDS)
        return Response(MediaJobOutputSerializer(job).data)


class TryOnView(APIView):
    pagination_class = MediaJobCursorPagination  # the page shape in the schema, and the pages

    @extend_schema(
        parameters=_LIST_PARAMS,
        responses=MediaJobOutputSerializer(many=True),
        summary="Your try-on jobs (staff: all), newest first",
    )
    def get(self, request: Request) -> Response:
        return _list(request, self, TRYON_KINDS)

    @extend_schema(
        request=TryOnInputSerializer,
        responses=_CREATE_RESPONSES,
        parameters=[IDEMPOTENCY_HEADER],
        summary="Start a FASHN try-on job (202); 503 when switched off or no FASHN_API_KEY",
    )
    def post(self, request: Request) -> Response:
        services.ensure_available(MediaProvider.FASHN)
        data = TryOnInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return _created(
            services.tryon_create(
                model_image_url=v["model_image_url"],
                garment_image_url=v.get("garment_image_url"),
                category=v["category"],
                options={},
                product_id=v.get("product_id"),
                principal=request.user,
                idempotency_key=_idempotency_key(request),
                request=request,
            )
        )


class TryOnDetailView(APIView):
    @extend_schema(responses=MediaJobOutputSerializer, summary="A try-on job: status, cost, result images")
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.media_job_get_visible(principal=request.user, job_id=str(job_id), kinds=TRYON_KINDS)
        return Response(MediaJobOutputSerializer(job).data)


class MediaJobCancelView(APIView):
    @extend_schema(
        request=None,
        responses={202: MediaJobOutputSerializer},
        summary="Stop following a job (work already at the provider is still billed); finished: 409",
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.media_job_get_visible(principal=request.user, job_id=str(job_id))
        cancelled = services.media_job_cancel(job=job, actor=request.user, request=request)
        return Response(MediaJobOutputSerializer(selectors.visible_jobs(request.user).get(pk=cancelled.pk)).data, 202)


class MediaFileDownloadView(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        summary="Download a job's stored file (.glb model, preview or try-on image)",
    )
    def get(self, request: Request, job_id: str, file_id: int) -> FileResponse:
        media_file = selectors.media_file_get_visible(principal=request.user, job_id=str(job_id), file_id=file_id)
        return FileResponse(
            media_file.file.open("rb"),
            as_attachment=True,
            filename=media_file.name,
            content_type=media_file.content_type,
        )
