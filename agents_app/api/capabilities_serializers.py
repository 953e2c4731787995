"""Serializers of the capability endpoints (code analysis, ML, WordPress): explicit, one per direction."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from agents_app.capabilities.code_analysis import MAX_FILE_BYTES, MAX_FILES
from agents_app.capabilities.ml import DEFAULT_CONFIDENCE, MODEL_TYPES


class SourceFileSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=255, help_text="relative path like 'pkg/module.py' (.py or .pyi)")
    content = serializers.CharField(max_length=MAX_FILE_BYTES, allow_blank=True, trim_whitespace=False)


class CodeSubmissionSerializer(serializers.Serializer[dict[str, Any]]):
    files = serializers.ListField(child=SourceFileSerializer(), min_length=1, max_length=MAX_FILES)


class CodeIssueSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.CharField()
    line = serializers.IntegerField()
    column = serializers.IntegerField()
    end_line = serializers.IntegerField()
    end_column = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=["critical", "high", "medium", "low"])
    rule = serializers.CharField()
    message = serializers.CharField()
    fix_available = serializers.BooleanField()
    url = serializers.CharField(allow_null=True)


class ScanReportSerializer(serializers.Serializer[dict[str, Any]]):
    issues = CodeIssueSerializer(many=True)
    summary = serializers.DictField(child=serializers.IntegerField(), help_text="issues per severity and total")
    files_scanned = serializers.IntegerField()
    rules = serializers.ListField(child=serializers.CharField())
    analyzer = serializers.CharField()


class FixedFileSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    content = serializers.CharField()
    diff = serializers.CharField(help_text="unified diff, empty when unchanged")
    changed = serializers.BooleanField()


class FixReportSerializer(serializers.Serializer[dict[str, Any]]):
    files = FixedFileSerializer(many=True)
    fixed_count = serializers.IntegerField()
    remaining = ScanReportSerializer()


class PredictInputSerializer(serializers.Serializer[dict[str, Any]]):
    model_type = serializers.ChoiceField(choices=list(MODEL_TYPES))
    # The contract's field is called ``data``; it shadows Serializer.data only in the stubs' eyes.
    data = serializers.JSONField(  # type: ignore[assignment]
        required=False, allow_null=True, default=None, help_text="data to predict from; omitted = the shop's data"
    )
    parameters = serializers.DictField(required=False, default=dict, help_text="model options (horizon, segments, ...)")
    confidence_threshold = serializers.FloatField(
        required=False,
        default=DEFAULT_CONFIDENCE,
        min_value=0.01,
        max_value=0.99,
        help_text="interval level / significance level / sentiment confidence, per model",
    )

    def validate_data(self, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("data must be a JSON object.")
        return value


class PredictionOutputSerializer(serializers.Serializer[dict[str, Any]]):
    model_type = serializers.ChoiceField(choices=list(MODEL_TYPES))
    data_source = serializers.ChoiceField(choices=["shop", "request"])
    confidence_threshold = serializers.FloatField()
    as_of = serializers.DateTimeField()
    model = serializers.JSONField(help_text="model name, description and settings used")
    data_volume = serializers.JSONField(help_text="how much data the model used")
    predictions = serializers.JSONField()


class PaletteEntrySerializer(serializers.Serializer[dict[str, Any]]):
    slug = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=120)
    color = serializers.CharField(max_length=7, help_text="#rgb or #rrggbb")


class ThemeInputSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=120)
    slug = serializers.CharField(max_length=60, required=False)
    description = serializers.CharField(max_length=300, required=False)
    author = serializers.CharField(max_length=120, required=False)
    author_uri = serializers.CharField(max_length=200, required=False)
    version = serializers.CharField(max_length=11, required=False)
    palette = serializers.ListField(child=PaletteEntrySerializer(), min_length=1, max_length=16, required=False)
    fonts = serializers.DictField(
        required=False, help_text='{"heading": "Playfair Display", "body": {"family", "fallback"}}'
    )


class ThemeOutputSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    size_bytes = serializers.IntegerField()
    files = serializers.ListField(child=serializers.CharField())
    download_url = serializers.CharField()


class PublishInputSerializer(serializers.Serializer[dict[str, Any]]):
    kind = serializers.ChoiceField(choices=["post", "page"], required=False)
    status = serializers.ChoiceField(choices=["draft", "publish", "pending", "private"], required=False)
    title = serializers.CharField(max_length=300, required=False)
    content = serializers.CharField(max_length=200000, required=False, trim_whitespace=False)
    excerpt = serializers.CharField(max_length=2000, required=False)
    slug = serializers.CharField(max_length=200, required=False)
    id = serializers.IntegerField(min_value=1, required=False, help_text="update this post/page")
    sku = serializers.CharField(max_length=64, required=False, help_text="publish the product's content")
