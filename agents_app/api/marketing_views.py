"""Marketing campaign endpoints (``/api/v1/marketing/``): parse, call, render."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.api.marketing_serializers import (
    AudiencePreviewInputSerializer,
    AudiencePreviewOutputSerializer,
    CampaignDetailSerializer,
    CampaignFilterSerializer,
    CampaignInputSerializer,
    CampaignOutputSerializer,
    MessageFilterSerializer,
    MessageOutputSerializer,
    ResultsOutputSerializer,
)
from agents_app.marketing import audience, selectors, services
from agents_app.marketing.models import Campaign, CampaignMessage
from devskyy.core.roles import Role
from devskyy.core.schema import error_responses

# Campaigns reach real customers: the people who run the shop and its service clients
# (the dashboard) create, cancel and send them; developers and read_only read.
CAMPAIGN_WRITE_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.API_USER})
# Previewing an audience writes nothing; every writing role may ask (read_only never POSTs).
PREVIEW_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.DEVELOPER, Role.API_USER})


def _detail(campaign: Campaign) -> dict[str, Any]:
    return {
        **CampaignOutputSerializer(campaign).data,
        "results": ResultsOutputSerializer(selectors.campaign_results(campaign)).data,
    }


class CampaignListCreateView(APIView):
    pagination_class = LimitOffsetPagination  # the page shape in the schema, and the pages
    write_roles = CAMPAIGN_WRITE_ROLES

    @extend_schema(
        parameters=[CampaignFilterSerializer],
        responses=CampaignOutputSerializer(many=True),
        summary="Campaigns, newest first (limit/offset)",
    )
    def get(self, request: Request) -> Response:
        filters = CampaignFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.campaign_queryset(**filters.validated_data), request, view=self)
        return paginator.get_paginated_response(CampaignOutputSerializer(page, many=True).data)

    @extend_schema(
        request=CampaignInputSerializer,
        responses={202: CampaignOutputSerializer, **error_responses(503)},  # 503: no LLM provider
        summary="Create a campaign: audience resolved now, copy written by the marketing agent's task, then scheduled",
    )
    def post(self, request: Request) -> Response:
        data = CampaignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        campaign = services.campaign_create(
            name=values.get("name", ""),
            campaign_type=values["campaign_type"],
            target_audience=values.get("target_audience"),
            content_template=values["content_template"],
            send_at=(values.get("schedule") or {}).get("send_at"),
            budget=values.get("budget"),
            ab_test=values.get("ab_test"),
            user=request.user,
        )
        return Response(CampaignOutputSerializer(selectors.campaign_get(campaign.id)).data, status=202)


class CampaignDetailView(APIView):
    @extend_schema(responses=CampaignDetailSerializer, summary="A campaign with its variants and results")
    def get(self, request: Request, campaign_id: uuid.UUID) -> Response:
        return Response(_detail(selectors.campaign_get(campaign_id)))


class CampaignResultsView(APIView):
    @extend_schema(responses=ResultsOutputSerializer, summary="Results computed from the outbox and real orders")
    def get(self, request: Request, campaign_id: uuid.UUID) -> Response:
        campaign = selectors.campaign_get(campaign_id)
        return Response(ResultsOutputSerializer(selectors.campaign_results(campaign)).data)


class CampaignMessagesView(APIView):
    pagination_class = LimitOffsetPagination  # the page shape in the schema, and the pages

    @extend_schema(
        parameters=[MessageFilterSerializer],
        responses=MessageOutputSerializer(many=True),
        summary="The campaign's outbox: every message with what happened to it (limit/offset)",
    )
    def get(self, request: Request, campaign_id: uuid.UUID) -> Response:
        campaign = selectors.campaign_get(campaign_id)
        filters = MessageFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = CampaignMessage.objects.filter(campaign=campaign, **filters.validated_data).select_related("variant")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs.order_by("id"), request, view=self)
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)


class CampaignCancelView(APIView):
    write_roles = CAMPAIGN_WRITE_ROLES

    @extend_schema(request=None, responses=CampaignOutputSerializer, summary="Cancel a campaign that has not finished")
    def post(self, request: Request, campaign_id: uuid.UUID) -> Response:
        campaign = services.campaign_cancel(campaign=selectors.campaign_get(campaign_id), user=request.user)
        return Response(CampaignOutputSerializer(selectors.campaign_get(campaign.id)).data)


class CampaignSendNowView(APIView):
    write_roles = CAMPAIGN_WRITE_ROLES

    @extend_schema(request=None, responses={202: CampaignOutputSerializer}, summary="Send a scheduled campaign now")
    def post(self, request: Request, campaign_id: uuid.UUID) -> Response:
        campaign = services.campaign_send_now(campaign=selectors.campaign_get(campaign_id), user=request.user)
        return Response(CampaignOutputSerializer(selectors.campaign_get(campaign.id)).data, status=202)


class AudiencePreviewView(APIView):
    write_roles = PREVIEW_ROLES

    @extend_schema(
        request=AudiencePreviewInputSerializer,
        responses=AudiencePreviewOutputSerializer,
        summary="How many real customers an audience filter matches, with a sample",
    )
    def post(self, request: Request) -> Response:
        data = AudiencePreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = audience.preview(data.validated_data["target_audience"], sample=data.validated_data["sample"])
        return Response(AudiencePreviewOutputSerializer(result).data)
