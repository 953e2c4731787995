"""3D generation and virtual try-on endpoints: parse, call a selector or service, render."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
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
from agents_app.media import selectors
from agents_app.media.exceptions import MediaFileNotFoundError, MediaFilePurgedError
from agents_app.media.models import MediaKind, MediaProvider
from agents_app.media.services import jobs
from devskyy.core.pagination import CursorPagination  # a malformed cursor is a 400, not a 404
from devskyy.core.schema import error_responses
from devskyy.core.storage import stored_file_response

MODEL_KINDS = (MediaKind.TEXT_TO_MODEL, MediaKind.IMAGE_TO_MODEL)
TRYON_KINDS = (MediaKind.TRYON,)
# 503: ENABLE_3D_GENERATION off (feature_disabled) or the provider's key missing (provider_not_configured).
_CREATE_RESPONSES = {202: MediaJobOutputSerializer, 200: MediaJobOutputSerializer, **error_responses(503)}


class MediaJobCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def _created(created: jobs.CreatedJob) -> Response:
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


# POST starts a job: a subclass names its input serializer and provider and turns the valid
# body into a job spec; the checks, the create and the 202 are shared. (A comment, not a
# docstring: drf-spectacular would print a docstring as every subclass's description.)
class _MediaJobCreateView(APIView):
    input_serializer: ClassVar[type[serializers.Serializer[dict[str, Any]]]]
    provider: ClassVar[MediaProvider]

    def job_spec(self, data: dict[str, Any]) -> jobs.JobSpec:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        # Switched off or no key: a 503 before the request is read, whatever its body or headers.
        jobs.ensure_available(self.provider)
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = jobs.media_job_create(
            spec=self.job_spec(data.validated_data),
            principal=request.user,
            idempotency_key=_idempotency_key(request),
            request=request,
            check_available=False,  # checked above
        )
        return _created(created)


@extend_schema_view(
    post=extend_schema(
        request=TextToModelInputSerializer,
        responses=_CREATE_RESPONSES,
        parameters=[IDEMPOTENCY_HEADER],
        summary="Start a Tripo text-to-3D job (202); 503 when switched off or no TRIPO_API_KEY",
    )
)
class TextToModelView(_MediaJobCreateView):
    input_serializer = TextToModelInputSerializer
    provider = MediaProvider.TRIPO

    def job_spec(self, data: dict[str, Any]) -> jobs.JobSpec:
        return jobs.JobSpec.text_to_model(
            prompt=data["prompt"], options=data["options"], product_id=data.get("product_id")
        )


@extend_schema_view(
    post=extend_schema(
        request=ImageToModelInputSerializer,
        responses=_CREATE_RESPONSES,
        parameters=[IDEMPOTENCY_HEADER],
        summary="Start a Tripo image-to-3D job from an image URL or a product's image (202)",
    )
)
class ImageToModelView(_MediaJobCreateView):
    input_serializer = ImageToModelInputSerializer
    provider = MediaProvider.TRIPO

    def job_spec(self, data: dict[str, Any]) -> jobs.JobSpec:
        return jobs.JobSpec.image_to_model(
            image_url=data.get("image_url"), options=data["options"], product_id=data.get("product_id")
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


@extend_schema_view(
    post=extend_schema(
        request=TryOnInputSerializer,
        responses=_CREATE_RESPONSES,
        parameters=[IDEMPOTENCY_HEADER],
        summary="Start a FASHN try-on job (202); 503 when switched off or no FASHN_API_KEY",
    )
)
class TryOnView(_MediaJobCreateView):
    input_serializer = TryOnInputSerializer
    provider = MediaProvider.FASHN
    pagination_class = MediaJobCursorPagination  # the page shape in the schema, and the pages

    def job_spec(self, data: dict[str, Any]) -> jobs.JobSpec:
        return jobs.JobSpec.tryon(
            model_image_url=data["model_image_url"],
            garment_image_url=data.get("garment_image_url"),
            category=data["category"],
            options={},
            product_id=data.get("product_id"),
        )

    @extend_schema(
        parameters=_LIST_PARAMS,
        responses=MediaJobOutputSerializer(many=True),
        summary="Your try-on jobs (staff: all), newest first",
    )
    def get(self, request: Request) -> Response:
        return _list(request, self, TRYON_KINDS)


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
        cancelled = jobs.media_job_cancel(job=job, actor=request.user, request=request)
        return Response(MediaJobOutputSerializer(selectors.visible_jobs(request.user).get(pk=cancelled.pk)).data, 202)


class MediaFileDownloadView(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **error_responses(410, 503)},
        summary="Download a job's stored file (.glb model, preview or try-on image); purged by retention: 410",
    )
    def get(self, request: Request, job_id: str, file_id: int) -> FileResponse:
        media_file = selectors.media_file_get_visible(principal=request.user, job_id=str(job_id), file_id=file_id)
        if media_file.purged_at is not None:
            raise MediaFilePurgedError(
                "The job's file was deleted by the media retention; its record is kept.",
                details={"job_id": str(job_id), "file_id": file_id, "purged_at": media_file.purged_at.isoformat()},
            )
        try:
            return stored_file_response(
                media_file.file.name,
                filename=media_file.name,
                content_type=media_file.content_type,
                storage=media_file.file.storage,
            )
        except FileNotFoundError:
            raise MediaFileNotFoundError(
                "The job's file is no longer in the file store.",
                details={"job_id": str(job_id), "file_id": file_id, "name": media_file.name},
            ) from None
