"""``GET /api/v1/monitoring/metrics``: an authenticated DRF view over health_app.monitoring."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from health_app.monitoring import METRIC_GROUPS, TIME_RANGES, monitoring_metrics


class MonitoringQuerySerializer(serializers.Serializer[dict[str, Any]]):
    metrics = serializers.ListField(child=serializers.ChoiceField(choices=METRIC_GROUPS), required=False)
    time_range = serializers.ChoiceField(choices=TIME_RANGES, required=False, default="1h")


class MonitoringMetricsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "metrics", OpenApiTypes.STR, many=True, enum=list(METRIC_GROUPS), description="repeat; default all"
            ),
            OpenApiParameter("time_range", OpenApiTypes.STR, enum=list(TIME_RANGES), description="default 1h"),
        ],
        responses=OpenApiTypes.OBJECT,
        summary="Request rate, error rate, latency percentiles, task success rate and LLM spend over a time range",
    )
    def get(self, request: Request) -> Response:
        data: dict[str, Any] = {**request.query_params.dict(), "metrics": request.query_params.getlist("metrics")}
        query = MonitoringQuerySerializer(data=data)
        query.is_valid(raise_exception=True)
        groups = query.validated_data.get("metrics") or list(METRIC_GROUPS)
        return Response(monitoring_metrics(groups=groups, time_range=query.validated_data["time_range"]))
