"""Outbound webhooks: SSRF-checked subscriptions, signed deliveries, retries, dead letters, replay."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection, transaction
from django.test import Client, override_settings

from devskyy.core.events import publish
from devskyy.core.outbound import emit
from devskyy.core.roles import Role
from devskyy.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from devskyy.webhooks.services import backoff_seconds, delivery_attempt, subscription_create
from devskyy.webhooks.signing import sign, verify
from tests.support.auth import access_token, bearer, make_user, security_events
from tests.support.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def receiver():
    with (
        webhook_receiver() as r,
        override_settings(
            WEBHOOK_UNSAFE_ALLOWED_ADDRESSES=[("127.0.0.1", r.port)],
            WEBHOOK_RETRY_BASE_SECONDS=0.05,
            WEBHOOK_RETRY_MAX_SECONDS=0.2,
        ),
    ):
        yield r


def _api(role: Role = Role.DEVELOPER) -> tuple[Client, dict]:
    return Client(), bearer(access_token(make_user(role)))


def _subscribe(receiver: Receiver, event_types: list[str] | None = None) -> WebhookSubscription:
    created = subscription_create(url=receiver.url, event_types=event_types or ["order.created"], name="test")
    receiver.secret = created.secret
    return created.subscription


def _wait_for(delivery_id, statuses: set[str], timeout: float = 15.0) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        if delivery.status in statuses:
            return delivery
        time.sleep(0.05)
    raise AssertionError(f"delivery stayed {delivery.status} (attempts {delivery.attempts})")


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign("s3cret", b'{"a":1}', timestamp=1700000000)
    assert header == "t=1700000000,v1=" + __import__("hmac").new(b"s3cret", b'1700000000.{"a":1}', "sha256").hexdigest()
    assert verify("s3cret", b'{"a":1}', header, now=1700000100)
    assert not verify("other", b'{"a":1}', header, now=1700000100)
    assert not verify("s3cret", b'{"a":2}', header, now=1700000100)
    assert not verify("s3cret", b'{"a":1}', header, now=1700009999)  # stale timestamp


def test_backoff_doubles_up_to_the_cap() -> None:
    with override_settings(WEBHOOK_RETRY_BASE_SECONDS=30, WEBHOOK_RETRY_MAX_SECONDS=200):
        assert [backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 200, 200]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.5/hook", "http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "ftp://example.com/x"],
)
def test_subscribing_a_private_url_is_refused_and_nothing_is_stored(url: str) -> None:
    client, auth = _api()
    blocked_before = security_events("ssrf_blocked")
    response = client.post(
        "/api/v1/webhooks/subscriptions", {"url": url, "event_types": ["order.created"]}, "application/json", **auth
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("url_not_allowed", "validation_error")
    assert WebhookSubscription.objects.count() == 0
    if url.startswith("http"):
        assert response.json()["error"]["code"] == "url_not_allowed"
        assert security_events("ssrf_blocked") == blocked_before + 1


@pytest.mark.django_db
def test_subscription_crud_shows_the_secret_once_and_stores_it_encrypted(receiver: Receiver) -> None:
    client, auth = _api()
    response = client.post(
        "/api/v1/webhooks/subscriptions",
        {"url": receiver.url, "event_types": ["order.created", "task.failed"], "name": "erp"},
        "application/json",
        **auth,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhooksubscription")
        (stored,) = cursor.fetchone()
    assert body["secret"] not in stored
    assert stored.startswith("v1:")
    detail = client.get(f"/api/v1/webhooks/subscriptions/{body['id']}", **auth).json()
    assert "secret" not in detail
    assert detail["event_types"] == ["order.created", "task.failed"]
    patched = client.patch(
        f"/api/v1/webhooks/subscriptions/{body['id']}", {"active": False}, "application/json", **auth
    )
    assert patched.json()["active"] is False
    assert patched.json()["secret"] == ""
    bad = client.patch(
        f"/api/v1/webhooks/subscriptions/{body['id']}", {"url": "http://192.168.1.1/x"}, "application/json", **auth
    )
    assert bad.status_code == 400
    assert WebhookSubscription.objects.get().url == receiver.url
    unknown = client.post(
        "/api/v1/webhooks/subscriptions",
        {"url": receiver.url, "event_types": ["order.exploded"]},
        "application/json",
        **auth,
    )
    assert unknown.status_code == 400
    assert client.delete(f"/api/v1/webhooks/subscriptions/{body['id']}", **auth).status_code == 204
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.django_db
def test_operators_watch_and_replay_but_do_not_subscribe(receiver: Receiver) -> None:
    client, auth = _api(Role.OPERATOR)
    response = client.post(
        "/api/v1/webhooks/subscriptions",
        {"url": receiver.url, "event_types": ["order.created"]},
        "application/json",
        **auth,
    )
    assert response.status_code == 403
    assert client.get("/api/v1/webhooks/deliveries", **auth).status_code == 200
    api_client, api_auth = _api(Role.API_USER)
    assert api_client.get("/api/v1/webhooks/subscriptions", **api_auth).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_delivery_failing_three_times_then_succeeding_is_delivered_once_and_signed(receiver: Receiver) -> None:
    _subscribe(receiver)
    receiver.answers = [500, 503, 500]
    with transaction.atomic():
        assert emit("order.created", {"number": "DS-1", "total": "120.00"}) == 1
    delivery = WebhookDelivery.objects.get()
    delivery = _wait_for(delivery.pk, {DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD})
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 4
    assert delivery.last_response_code == 200
    assert [r.status for r in receiver.requests] == [500, 503, 500, 200]
    assert all(r.signature_ok for r in receiver.requests)
    assert {r.headers["X-DevSkyy-Delivery"] for r in receiver.requests} == {str(delivery.pk)}
    assert len(receiver.accepted) == 1
    sent = json.loads(receiver.accepted[str(delivery.pk)])
    assert sent["type"] == "order.created"
    assert sent["data"] == {"number": "DS-1", "total": "120.00"}
    assert receiver.requests[-1].headers["X-DevSkyy-Event"] == "order.created"


@pytest.mark.django_db(transaction=True)
def test_dead_letter_after_max_attempts_keeps_the_payload_and_replay_delivers(receiver: Receiver) -> None:
    _subscribe(receiver)
    receiver.default_status = 500
    with override_settings(WEBHOOK_MAX_ATTEMPTS=3), transaction.atomic():
        emit("order.created", {"number": "DS-2"})
    delivery = _wait_for(WebhookDelivery.objects.get().pk, {DeliveryStatus.DEAD, DeliveryStatus.SUCCEEDED})
    assert delivery.status == DeliveryStatus.DEAD
    assert (delivery.attempts, delivery.last_response_code, delivery.last_error) == (3, 500, "HTTP 500")
    assert delivery.payload["data"] == {"number": "DS-2"}
    assert len(receiver.requests) == 3
    assert receiver.accepted == {}

    receiver.default_status = 200
    client, auth = _api(Role.OPERATOR)
    response = client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay", **auth)
    assert response.status_code == 202, response.content
    delivery = _wait_for(delivery.pk, {DeliveryStatus.SUCCEEDED})
    assert delivery.replays == 1
    assert json.loads(receiver.accepted[str(delivery.pk)])["data"] == {"number": "DS-2"}


@pytest.mark.django_db
def test_replaying_a_delivery_in_progress_is_a_conflict(receiver: Receiver, django_capture_on_commit_callbacks) -> None:
    _subscribe(receiver)
    with django_capture_on_commit_callbacks(execute=False):
        emit("order.created", {"number": "DS-3"})
    delivery = WebhookDelivery.objects.get()
    client, auth = _api()
    response = client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay", **auth)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "delivery_in_progress"
    assert (
        client.post("/api/v1/webhooks/deliveries/00000000-0000-0000-0000-000000000009/replay", **auth).status_code
        == 404
    )


@pytest.mark.django_db
def test_the_ssrf_guard_is_checked_again_at_delivery(receiver: Receiver, django_capture_on_commit_callbacks) -> None:
    _subscribe(receiver)
    with django_capture_on_commit_callbacks(execute=False):
        emit("order.created", {"number": "DS-4"})
    delivery = WebhookDelivery.objects.get()
    with override_settings(WEBHOOK_UNSAFE_ALLOWED_ADDRESSES=[]):
        outcome = delivery_attempt(delivery_id=str(delivery.pk))
    delivery.refresh_from_db()
    assert outcome.status == "dead"
    assert delivery.status == DeliveryStatus.DEAD
    assert "loopback" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_only_matching_active_subscriptions_get_deliveries(
    receiver: Receiver, django_capture_on_commit_callbacks
) -> None:
    wanted = _subscribe(receiver, ["product.updated"])
    _subscribe(receiver, ["order.created"])
    inactive = _subscribe(receiver, ["product.updated"])
    WebhookSubscription.objects.filter(pk=inactive.pk).update(active=False)
    with django_capture_on_commit_callbacks(execute=False):
        assert emit("product.updated", {"sku": "SIG-HOO-001"}) == 1
    assert list(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == [wanted.pk]
    with pytest.raises(ValueError, match="unknown outbound event type"):
        emit("product.exploded", {})


@pytest.mark.django_db
def test_final_task_updates_on_the_feed_become_task_events(
    receiver: Receiver, django_capture_on_commit_callbacks
) -> None:
    _subscribe(receiver, ["task.completed", "task.failed"])
    with django_capture_on_commit_callbacks(execute=False):
        for status in ("running", "completed", "failed"):
            publish(
                channel="tasks",
                event_type="task_update",
                payload={
                    "task_id": f"t-{status}",
                    "agent_id": "commerce-001",
                    "status": status,
                    "progress": 100,
                    "data": {"action": "sales_summary", "duration_ms": 12},
                },
            )
    rows = {d.event_type: d.payload["data"] for d in WebhookDelivery.objects.all()}
    assert set(rows) == {"task.completed", "task.failed"}
    assert rows["task.completed"]["task_id"] == "t-completed"
    assert rows["task.completed"]["action"] == "sales_summary"


@pytest.mark.django_db
def test_a_rolled_back_change_is_never_announced(receiver: Receiver) -> None:
    _subscribe(receiver)

    def change_then_fail() -> None:
        with transaction.atomic():
            emit("order.created", {"number": "DS-5"})
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_processes_keep_the_subscriber_list_until_a_subscription_changes(receiver: Receiver) -> None:
    from django.test.utils import CaptureQueriesContext

    from devskyy.webhooks.services import subscribers, subscription_delete, subscription_update

    assert subscribers("task.completed") == []
    with CaptureQueriesContext(connection) as kept:
        assert subscribers("task.completed") == []
    assert len(kept.captured_queries) == 0  # a finished task asks without a query

    subscription = _subscribe(receiver, ["task.completed"])
    assert subscribers("task.completed") == [subscription.pk]  # saved: every process reads again
    assert subscribers("task.failed") == []
    subscription_update(subscription=subscription, active=False)
    assert subscribers("task.completed") == []
    subscription_update(subscription=subscription, active=True, event_types=["task.failed"])
    assert subscribers("task.failed") == [subscription.pk]
    subscription_delete(subscription=subscription)
    assert subscribers("task.failed") == []


@pytest.mark.django_db(transaction=True)
def test_the_sweep_sends_due_deliveries_whose_message_was_lost_and_leaves_the_rest(receiver: Receiver) -> None:
    """``manage.py dispatch_due_webhooks`` (what beat runs every WEBHOOK_SWEEP_INTERVAL_SECONDS)."""
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    subscription = _subscribe(receiver)
    now = timezone.now()

    def delivery(number: str, **fields: object) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            subscription=subscription,
            event_id=f"00000000-0000-0000-0000-0000000000{number}",
            event_type="order.created",
            payload={"type": "order.created", "data": {"number": number}},
            max_attempts=5,
            **fields,
        )

    lost = delivery("a1", next_attempt_at=now - timedelta(seconds=5))  # due; its message never came
    expired = delivery(  # claimed by a worker that died: the claim lapsed
        "a2", status=DeliveryStatus.DELIVERING, attempts=1, lease_until=now - timedelta(seconds=1)
    )
    later = delivery("a3", next_attempt_at=now + timedelta(hours=1))  # waiting for its retry time
    held = delivery("a4", status=DeliveryStatus.DELIVERING, attempts=1, lease_until=now + timedelta(minutes=5))

    out = StringIO()
    call_command("dispatch_due_webhooks", stdout=out)
    assert "for 2 webhook delivery(ies)" in out.getvalue()
    assert _wait_for(lost.pk, {DeliveryStatus.SUCCEEDED}).attempts == 1
    assert _wait_for(expired.pk, {DeliveryStatus.SUCCEEDED}).attempts == 2
    assert sorted(receiver.accepted) == sorted([str(lost.pk), str(expired.pk)])
    assert WebhookDelivery.objects.get(pk=later.pk).status == DeliveryStatus.PENDING
    assert WebhookDelivery.objects.get(pk=held.pk).status == DeliveryStatus.DELIVERING
