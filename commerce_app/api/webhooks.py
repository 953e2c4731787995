"""``/api/v1/commerce/webhooks/woocommerce``: WooCommerce's deliveries (public, signed).

The signature (``X-WC-Webhook-Signature``, base64 HMAC-SHA256 of the raw body with the
webhook secret) is checked over the exact bytes before anything is parsed or written.
A mismatch is a 401 and a ``bad_webhook_signature`` security event. WooCommerce's
creation ping (``webhook_id=<n>``, no topic) is answered 200. A GET answers 200 with
what the endpoint accepts (for an operator checking the URL).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce_app.api.serializers import WebhookAckSerializer
from commerce_app.models import ShopConnection
from commerce_app.sync import WEBHOOK_TOPICS
from commerce_app.webhook_intake import webhook_receive
from commerce_app.woocommerce.webhooks import is_ping, read_headers, verify_signature
from devskyy.core.audit import security_event
from devskyy.core.errors import error_body
from devskyy.core.metrics import SecurityEvent
from devskyy.core.permissions import PublicRoutePermission


def webhook_secret() -> str:
    secret = ShopConnection.objects.filter(name="default").values_list("webhook_secret", flat=True).first()
    return secret or settings.WOOCOMMERCE_WEBHOOK_SECRET


def signed_delivery(request: HttpRequest) -> bool:
    """True when the request carries a valid signature (the rate limiter lets these through)."""
    signature = request.headers.get("X-WC-Webhook-Signature")
    return bool(signature) and verify_signature(request.body, signature, webhook_secret())


class WooCommerceWebhookView(APIView):
    authentication_classes = ()
    permission_classes = (PublicRoutePermission,)

    @extend_schema(responses=WebhookAckSerializer, summary="What this endpoint accepts")
    def get(self, request: Request) -> Response:
        return Response({"status": "ready", "accepts": "POST", "topics": sorted(WEBHOOK_TOPICS)})

    @extend_schema(request=None, responses={200: WebhookAckSerializer, 401: None}, summary="WooCommerce delivery")
    def post(self, request: Request) -> Response:
        raw = request.body  # the exact bytes: never request.data before the signature check
        headers = read_headers(request.headers)
        if headers.topic is None and is_ping(raw, request.content_type):
            return Response({"status": "pong"})
        secret = webhook_secret()
        if not verify_signature(raw, headers.signature, secret):
            security_event(
                event_type=SecurityEvent.BAD_WEBHOOK_SIGNATURE,
                request=request,
                target_type="webhook",
                target_id="woocommerce",
                details={
                    "topic": (headers.topic or "")[:64],
                    "delivery_id": (headers.delivery_id or "")[:128],
                    "reason": "no secret configured" if not secret else "signature mismatch",
                },
            )
            return Response(
                error_body(401, "Webhook signature does not match.", code="bad_webhook_signature"), status=401
            )
        header_map: dict[str, Any] = {
            k: v
            for k, v in request.headers.items()
            if k.lower().startswith("x-wc-webhook") or k.lower() == "user-agent"
        }
        result = webhook_receive(headers=headers, header_map=header_map, raw_body=raw)
        return Response({"status": result.status, "delivery_id": result.delivery_id, "duplicate": result.duplicate})
