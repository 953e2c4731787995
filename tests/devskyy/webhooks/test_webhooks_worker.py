"""Outbound webhooks on a real Celery worker: the retry countdowns travel through the broker."""

from __future__ import annotations

import json
import time

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from devskyy.core.outbound import emit
from devskyy.webhooks.models import DeliveryStatus, WebhookDelivery
from devskyy.webhooks.services import subscription_create
from tests.support.pg_faults import backend_killer
from tests.support.servers import beat_only, celery_beat, celery_worker, poll
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


def test_an_outcome_write_hitting_a_terminated_connection_is_retried_not_resent() -> None:
    """The database connection dies while the receiver answers 200: the outcome is written
    on a new connection, so the delivery ends succeeded after one request instead of staying
    claimed until its lease lapses and being sent again."""
    from django.utils import timezone

    from devskyy.webhooks.services import delivery_attempt

    with (
        webhook_receiver() as receiver,
        override_settings(WEBHOOK_UNSAFE_ALLOWED_ADDRESSES=[("127.0.0.1", receiver.port)]),
    ):
        created = subscription_create(url=receiver.url, event_types=["order.created"], name="fault")
        receiver.secret = created.secret
        delivery = WebhookDelivery.objects.create(
            subscription=created.subscription,
            event_id="00000000-0000-0000-0000-0000000000f1",
            event_type="order.created",
            payload={"type": "order.created", "data": {"number": "DS-F1"}},
            max_attempts=5,
            next_attempt_at=timezone.now(),
        )
        receiver.on_request = backend_killer()
        outcome = delivery_attempt(delivery_id=str(delivery.pk))
        receiver.on_request = None

        assert outcome.status == "succeeded"
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_response_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
        assert delivery.lease_until is None
        assert len(receiver.requests) == 1


def test_beat_sends_a_due_delivery_whose_message_was_lost(server_env: dict[str, str]) -> None:
    from django.utils import timezone

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    with webhook_receiver() as receiver:
        with override_settings(WEBHOOK_UNSAFE_ALLOWED_ADDRESSES=[("127.0.0.1", receiver.port)]):
            created = subscription_create(url=receiver.url, event_types=["order.created"], name="sweep")
        receiver.secret = created.secret
        # Due, as emit() leaves it, but its message never reached the queue.
        delivery = WebhookDelivery.objects.create(
            subscription=created.subscription,
            event_id="00000000-0000-0000-0000-0000000000b1",
            event_type="order.created",
            payload={"type": "order.created", "data": {"number": "DS-B1"}},
            max_attempts=5,
            next_attempt_at=timezone.now(),
        )
        env = {
            **server_env,
            "DJANGO_SETTINGS_MODULE": "tests.support.webhook_worker_settings",
            "TEST_WEBHOOK_RECEIVER_PORT": str(receiver.port),
            **beat_only(WEBHOOK_SWEEP_INTERVAL_SECONDS="1"),
        }
        with celery_worker(env), celery_beat(env):
            assert poll(
                lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED, timeout=40
            ), WebhookDelivery.objects.get(pk=delivery.pk).__dict__
            sent = len(receiver.requests)
            time.sleep(2.5)  # more sweeps run meanwhile
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert sent == len(receiver.requests) == 1  # later sweeps never send a succeeded delivery again
    assert list(receiver.accepted) == [str(delivery.pk)]


@pytest.mark.parametrize(("sweep", "countdown", "messages"), [(60, 0.5, 1), (60, 0.6, 0), (0, 0.6, 1)])
def test_a_wait_past_half_the_visibility_timeout_is_left_to_the_sweep(
    sweep: int, countdown: float, messages: int
) -> None:
    """A countdown message outliving the visibility timeout would be put back on the queue
    again and again; with beat's sweep on, such a wait sends no message at all."""
    from devskyy.webhooks.services import delivery_schedule

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    visibility = settings.CELERY_VISIBILITY_TIMEOUT
    with override_settings(WEBHOOK_SWEEP_INTERVAL_SECONDS=sweep):
        delivery_schedule(delivery_id="00000000-0000-0000-0000-0000000000c1", countdown=countdown * visibility)
    assert broker.llen("celery") == messages
    broker.delete("celery")
