"""Outbound webhooks API: subscriptions CRUD, deliveries, replay. Parse, call a service, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devskyy.core.errors import NotFoundError
from devskyy.core.roles import Role
from devskyy.webhooks import services
from devskyy.webhooks.api.serializers import (
    DeliveryFilterSerializer,
    DeliveryOutputSerializer,
    SubscriptionInputSerializer,
    SubscriptionOutputSerializer,
    SubscriptionUpdateSerializer,
    SubscriptionWithSecretSerializer,
)
from devskyy.webhooks.models import WebhookDelivery, WebhookSubscription

# Subscriptions send shop data (orders, customers) to outside URLs: who may point them
# somewhere is narrower than who may watch deliveries and replay them.
SUBSCRIPTION_WRITE_ROLES = frozenset({Role.ADMIN, Role.DEVELOPER})
WEBHOOK_READ_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.DEVELOPER})


def _subscription(pk: str) -> WebhookSubscription:
    subscription = WebhookSubscription.objects.filter(pk=pk).first()
    if subscription is None:
        raise NotFoundError("No such webhook subscription.", details={"id": str(pk)})
    return subscription


def _delivery(pk: str) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=pk).first()
    if delivery is None:
        raise NotFoundError("No such webhook delivery.", details={"id": str(pk)})
    return delivery


class SubscriptionListCreateView(APIView):
    read_roles = WEBHOOK_READ_ROLES
    write_roles = SUBSCRIPTION_WRITE_ROLES

    @extend_schema(responses=SubscriptionOutputSerializer(many=True), summary="Webhook subscriptions")
    def get(self, request: Request) -> Response:
        return Response(SubscriptionOutputSerializer(WebhookSubscription.objects.all()[:500], many=True).data)

    @extend_schema(
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionWithSecretSerializer},
        summary="Subscribe a URL (checked by the SSRF guard) to event types; the signing secret is shown once",
    )
    def post(self, request: Request) -> Response:
        data = SubscriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.subscription_create(**data.validated_data, actor=request.user, request=request)
        body = SubscriptionWithSecretSerializer(created.subscription, context={"secret": created.secret}).data
        return Response(body, status=201)


class SubscriptionDetailView(APIView):
    read_roles = WEBHOOK_READ_ROLES
    write_roles = SUBSCRIPTION_WRITE_ROLES

    @extend_schema(responses=SubscriptionOutputSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(SubscriptionOutputSerializer(_subscription(pk)).data)

    @extend_schema(
        request=SubscriptionUpdateSerializer,
        responses=SubscriptionWithSecretSerializer,
        summary="Change a subscription; rotate_secret returns the new secret once",
    )
    def patch(self, request: Request, pk: str) -> Response:
        subscription = _subscription(pk)
        data = SubscriptionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.subscription_update(
            subscription=subscription, **data.validated_data, actor=request.user, request=request
        )
        return Response(SubscriptionWithSecretSerializer(updated.subscription, context={"secret": updated.secret}).data)

    @extend_schema(responses={204: None}, summary="Delete a subscription and its delivery history")
    def delete(self, request: Request, pk: str) -> Response:
        services.subscription_delete(subscription=_subscription(pk), actor=request.user, request=request)
        return Response(status=204)


class DeliveryListView(APIView):
    read_roles = WEBHOOK_READ_ROLES

    @extend_schema(
        parameters=[DeliveryFilterSerializer],
        responses=DeliveryOutputSerializer(many=True),
        summary="Deliveries, newest first",
    )
    def get(self, request: Request) -> Response:
        filters = DeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = WebhookDelivery.objects.all()
        if "status" in f:
            qs = qs.filter(status=f["status"])
        if "subscription" in f:
            qs = qs.filter(subscription_id=f["subscription"])
        return Response(DeliveryOutputSerializer(qs.order_by("-created_at")[: f["limit"]], many=True).data)


class DeliveryDetailView(APIView):
    read_roles = WEBHOOK_READ_ROLES

    @extend_schema(responses=DeliveryOutputSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(DeliveryOutputSerializer(_delivery(pk)).data)


class DeliveryReplayView(APIView):
    write_roles = WEBHOOK_READ_ROLES

    @extend_schema(
        request=None,
        responses={202: DeliveryOutputSerializer},
        summary="Send a dead-lettered (or delivered) delivery again with its kept payload",
    )
    def post(self, request: Request, pk: str) -> Response:
        delivery = services.delivery_replay(delivery=_delivery(pk), actor=request.user, request=request)
        return Response(DeliveryOutputSerializer(delivery).data, status=202)
