"""Outbound webhooks on a real Celery worker: the retry countdowns travel through the broker."""

from __future__ import annotations

import json

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from devskyy.core.outbound import emit
from devskyy.webhooks.models import DeliveryStatus, WebhookDelivery
from devskyy.webhooks.services import subscription_create
from tests.support.servers import celery_worker, poll
from tests.support.webhook_receiver import webhook_receiver

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_delivery_failing_three_times_is_retried_by_the_worker_and_delivered_once(
    server_env: dict[str, str],
) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index", "unacked_mutex")  # nothing left by earlier runs
    with webhook_receiver() as receiver:
        worker_env = {
            **server_env,
            "DJANGO_SETTINGS_MODULE": "tests.support.webhook_worker_settings",
            "TEST_WEBHOOK_RECEIVER_PORT": str(receiver.port),
            "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
            "WEBHOOK_RETRY_MAX_SECONDS": "1",
        }
        with celery_worker(worker_env):
            # The subscription is checked by this process's SSRF guard too.
            with override_settings(WEBHOOK_UNSAFE_ALLOWED_ADDRESSES=[("127.0.0.1", receiver.port)]):
                created = subscription_create(url=receiver.url, event_types=["order.created"], name="worker")
            receiver.secret = created.secret
            receiver.answers = [500, 503, 500]
            with transaction.atomic():
                assert emit("order.created", {"number": "DS-7", "total": "80.00"}) == 1
            delivery = WebhookDelivery.objects.get()

            assert poll(
                lambda: (
                    WebhookDelivery.objects.get(pk=delivery.pk).status
                    in {DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD}
                ),
                timeout=40,
            ), WebhookDelivery.objects.get(pk=delivery.pk).__dict__

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 4
    assert [r.status for r in receiver.requests] == [500, 503, 500, 200]
    assert all(r.signature_ok for r in receiver.requests)
    assert list(receiver.accepted) == [str(delivery.pk)]
    assert json.loads(receiver.accepted[str(delivery.pk)])["data"] == {"number": "DS-7", "total": "80.00"}
