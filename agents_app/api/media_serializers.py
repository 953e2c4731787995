"""Input and output serializers of the 3D generation and try-on API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents_app.media.events import file_payload
from agents_app.media.models import MediaJob, MediaKind, MediaStatus
from agents_app.media.options import TRIPO_PROMPT_MAX, option_errors
from agents_app.media.services.jobs import TRYON_CATEGORIES

_PK_MAX = 2**63 - 1  # a larger id is a 400, not a database error


def _options(value: Any) -> dict[str, Any]:
    errors = option_errors(value)
    if errors:
        raise serializers.ValidationError([f"{e['path']}: {e['message']}" for e in errors])
    result: dict[str, Any] = value
    return result


class TextToModelInputSerializer(serializers.Serializer[dict[str, Any]]):
    prompt = serializers.CharField(max_length=TRIPO_PROMPT_MAX, help_text="what to model (Tripo's limit)")
    product_id = serializers.IntegerField(
        required=False, min_value=1, max_value=_PK_MAX, help_text="the product the model is for"
    )
    options = serializers.JSONField(required=False, default=dict, help_text="Tripo task options")

    def validate_options(self, value: Any) -> dict[str, Any]:
        return _options(value)


class ImageToModelInputSerializer(serializers.Serializer[dict[str, Any]]):
    image_url = serializers.URLField(required=False, max_length=2000, help_text="fetched through the SSRF guard")
    product_id = serializers.IntegerField(
        required=False, min_value=1, max_value=_PK_MAX, help_text="uses the product's first image"
    )
    options = serializers.JSONField(required=False, default=dict)

    def validate_options(self, value: Any) -> dict[str, Any]:
        return _options(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("image_url") and attrs.get("product_id") is None:
            raise serializers.ValidationError({"image_url": ["Give image_url or product_id."]})
        return attrs


class TryOnInputSerializer(serializers.Serializer[dict[str, Any]]):
    model_image_url = serializers.URLField(max_length=2000, help_text="photo of the person")
    garment_image_url = serializers.URLField(required=False, max_length=2000)
    product_id = serializers.IntegerField(
        required=False, min_value=1, max_value=_PK_MAX, help_text="uses the product's first image as garment"
    )
    category = serializers.ChoiceField(choices=list(TRYON_CATEGORIES), required=False, default="auto")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("garment_image_url") and attrs.get("product_id") is None:
            raise serializers.ValidationError({"garment_image_url": ["Give garment_image_url or product_id."]})
        return attrs


class MediaJobFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=MediaStatus.choices, required=False)
    product_id = serializers.IntegerField(required=False, min_value=1, max_value=_PK_MAX)


class MediaFileOutputSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["model", "preview", "image"])
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    download_url = serializers.CharField(allow_null=True, help_text="null once retention purged the file")
    purged_at = serializers.DateTimeField(allow_null=True)


class MediaJobOutputSerializer(serializers.ModelSerializer[MediaJob]):
    cost_usd = serializers.DecimalField(max_digits=12, decimal_places=6)
    agent_id = serializers.CharField(source="agent_slug")
    files = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = MediaJob
        fields = [
            "id",
            "kind",
            "provider",
            "status",
            "stage",
            "progress",
            "prompt",
            "inputs",
            "product_id",
            "provider_task_id",
            "provider_status",
            "cost_usd",
            "error_code",
            "error",
            "files",
            "agent_id",
            "agent_task_id",
            "created_at",
            "submitted_at",
            "finished_at",
            "deadline_at",
            "status_url",
        ]
        read_only_fields = fields

    @extend_schema_field(MediaFileOutputSerializer(many=True))
    def get_files(self, job: MediaJob) -> list[dict[str, Any]]:
        return [file_payload(job, f) for f in job.files.all()]

    @extend_schema_field(serializers.CharField())
    def get_status_url(self, job: MediaJob) -> str:
        return f"/api/v1/media/{'tryon' if job.kind == MediaKind.TRYON else '3d/jobs'}/{job.pk}"
