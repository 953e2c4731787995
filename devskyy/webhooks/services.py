"""Every write of outbound webhooks: subscriptions, event fan-out, delivery attempts, replay.

Delivery life cycle (``WebhookDelivery.status``)::

    pending --claim--> delivering --2xx--> succeeded
       ^                   |--failure, attempts < max--> pending (next_attempt_at = now + backoff)
       |                   |--failure, attempts = max, or URL refused by the SSRF guard--> dead
       +------ replay (dead or succeeded; admin action or API) -----+

A claim is one conditional UPDATE (status and due time), so two workers holding the
same message cannot both send one attempt. Backoff before attempt n+1 is
``min(WEBHOOK_RETRY_MAX_SECONDS, WEBHOOK_RETRY_BASE_SECONDS * 2**(n-1))``. Every
request is signed afresh (``signing.py``) and carries ``X-DevSkyy-Delivery`` (stable
across retries: receivers de-duplicate on it) and ``X-DevSkyy-Event``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from devskyy.core.audit import audit_record
from devskyy.core.background import after_commit, dispatch_later
from devskyy.core.durability import through_outage
from devskyy.core.errors import ConflictError, DomainError
from devskyy.core.events import utc_iso
from devskyy.core.metrics import WEBHOOK_DELIVERIES
from devskyy.core.outbound import EVENT_TYPES
from devskyy.core.ssrf import OutboundFetchError, SSRFBlockedError, safe_fetch, vet_url
from devskyy.core.versions import VersionedCopy
from devskyy.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from devskyy.webhooks.signing import SIGNATURE_HEADER, sign

logger = logging.getLogger(__name__)

_FINAL_TASK_STATUSES = {"completed": "task.completed", "failed": "task.failed", "cancelled": "task.cancelled"}
_RESPONSE_LIMIT = 64 * 1024
_LEASE_MARGIN_SECONDS = 30


class InvalidSubscriptionError(DomainError):
    code = "invalid_subscription"


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once, at creation or rotation


@dataclass(frozen=True)
class AttemptOutcome:
    status: str  # succeeded, retry, dead, skipped
    retry_in: float | None = None


def _allowed_addresses() -> list[tuple[str, int]]:
    # Test-only exemption from the SSRF guard; settings never read it from the environment.
    return list(settings.WEBHOOK_UNSAFE_ALLOWED_ADDRESSES)


def _check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if not event_types or unknown:
        raise InvalidSubscriptionError(
            "event_types must list at least one known event type."
            if not unknown
            else f"Unknown event types: {unknown}.",
            details={"allowed": list(EVENT_TYPES), "unknown": unknown},
        )
    return sorted(set(event_types))


def _check_url(url: str, *, actor: Any) -> str:
    try:
        vet_url(url, actor=actor, unsafe_allowed_addresses=_allowed_addresses())
    except OutboundFetchError as exc:  # DNS: the receiver's name does not resolve now
        raise InvalidSubscriptionError(
            f"URL cannot be used: {exc.message}", details={"url_host_error": exc.code}
        ) from None
    return url.strip()


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def subscription_create(
    *,
    url: str,
    event_types: list[str],
    name: str = "",
    active: bool = True,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> CreatedSubscription:
    """Vet the URL (SSRF guard: 400 and nothing stored when refused), store, audit."""
    types = _check_event_types(event_types)
    checked = _check_url(url, actor=actor)
    secret = _new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            url=checked,
            event_types=types,
            name=name,
            active=active,
            secret=secret,
            created_by=actor if getattr(actor, "pk", None) and hasattr(actor, "groups") else None,
        )
        audit_record(
            action="webhook.subscription_created",
            actor=actor,
            target_type="webhook_subscription",
            target_id=str(subscription.pk),
            details={"event_types": types, "host": vet_host(checked)},
            request=request,
        )
    return CreatedSubscription(subscription=subscription, secret=secret)


def vet_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


def subscription_update(
    *,
    subscription: WebhookSubscription,
    url: str | None = None,
    event_types: list[str] | None = None,
    name: str | None = None,
    active: bool | None = None,
    rotate_secret: bool = False,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> CreatedSubscription:
    """Change fields given; a new URL is vetted again; ``rotate_secret`` returns the new secret once."""
    changed: list[str] = []
    if url is not None and url != subscription.url:
        subscription.url = _check_url(url, actor=actor)
        changed.append("url")
    if event_types is not None:
        subscription.event_types = _check_event_types(event_types)
        changed.append("event_types")
    if name is not None:
        subscription.name = name
        changed.append("name")
    if active is not None:
        subscription.active = active
        changed.append("active")
    secret = ""
    if rotate_secret:
        secret = _new_secret()
        subscription.secret = secret
        changed.append("secret")
    with transaction.atomic():
        subscription.save()
        audit_record(
            action="webhook.subscription_updated",
            actor=actor,
            target_type="webhook_subscription",
            target_id=str(subscription.pk),
            details={"changed": changed},
            request=request,
        )
    return CreatedSubscription(subscription=subscription, secret=secret)


@transaction.atomic
def subscription_delete(
    *, subscription: WebhookSubscription, actor: Any = None, request: HttpRequest | None = None
) -> None:
    audit_record(
        action="webhook.subscription_deleted",
        actor=actor,
        target_type="webhook_subscription",
        target_id=str(subscription.pk),
        details={"host": vet_host(subscription.url)},
        request=request,
    )
    subscription.delete()


# --- events -----------------------------------------------------------------------------------------
# Active subscriptions (id, event types), read once per version of them and process
# (devskyy/core/versions.py): every finished task asks, and reading the rows each time
# was a tenth of a tool task's work on the task worker (PERF P5, bench/README.md).
# Every save and delete of a subscription bumps the version after commit
# (devskyy/webhooks/apps.py); writes that bypass the model are seen within a minute.
# A subscription made a few milliseconds before an event (its bump not yet in Redis)
# may miss that event; a deactivated one is checked again at delivery (_attempt).
_SUBSCRIBERS: VersionedCopy[tuple[tuple[uuid.UUID, frozenset[str]], ...]] = VersionedCopy(
    "webhook_subscriptions", seconds=60.0
)


def subscriptions_changed() -> None:
    """A subscription was saved or deleted (or will be, once the transaction commits)."""
    _SUBSCRIBERS.changed()


def forget_subscribers() -> None:
    """Drop this process's copy of the active subscriptions (tests)."""
    _SUBSCRIBERS.forget()


def _read_active_subscriptions() -> tuple[tuple[uuid.UUID, frozenset[str]], ...]:
    rows = WebhookSubscription.objects.filter(active=True).values_list("id", "event_types")
    return tuple((pk, frozenset(types)) for pk, types in rows)


def subscribers(event_type: str) -> list[uuid.UUID]:
    """Ids of the active subscriptions that want ``event_type``."""
    return [pk for pk, types in _SUBSCRIBERS.get(_read_active_subscriptions) if event_type in types]


def event_emit(
    *, event_type: str, payload: dict[str, Any], subscription_ids: list[uuid.UUID] | None = None
) -> list[WebhookDelivery]:
    """One pending delivery per active subscription wanting ``event_type``; sent after commit.

    ``subscription_ids``: those subscriptions, when the caller has just read them."""
    if subscription_ids is None:
        subscription_ids = subscribers(event_type)
    if not subscription_ids:
        return []
    event_id = uuid.uuid4()
    now = timezone.now()
    body = json.loads(
        json.dumps(
            {"id": str(event_id), "type": event_type, "created_at": utc_iso(now), "data": payload},
            cls=DjangoJSONEncoder,
        )
    )
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    subscription_id=subscription_id,
                    event_id=event_id,
                    event_type=event_type,
                    payload=body,
                    max_attempts=settings.WEBHOOK_MAX_ATTEMPTS,
                    next_attempt_at=now,
                )
                for subscription_id in subscription_ids
            ]
        )
    for delivery in deliveries:
        after_commit(_scheduler(str(delivery.pk)), task="devskyy.webhooks.deliver")
    return deliveries


def _scheduler(delivery_id: str) -> Callable[[], None]:
    return lambda: delivery_schedule(delivery_id=delivery_id, countdown=0)


def task_feed_hook(channel: str, event_type: str, payload: dict[str, Any]) -> None:
    """Feed publish hook: a task reaching a final state becomes ``task.<status>``.

    Runs inside the publisher's transaction; a failure here is logged and never breaks
    the task update that triggered it.
    """
    if channel != "tasks" or event_type != "task_update":
        return
    outbound = _FINAL_TASK_STATUSES.get(str(payload.get("status")))
    if outbound is None:
        return
    # Inside the publisher's transaction the read gets a savepoint: a failure must not
    # break that transaction. Outside one (a worker finishing a task) it needs none.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with guard:
            listening = subscribers(outbound)
    except DatabaseError as exc:
        logger.warning("webhook deliveries for %s not recorded: %s", outbound, type(exc).__name__)
        return
    if not listening:  # the common case: nobody listens; no transaction opened
        return
    data = payload.get("data") or {}
    body = {
        "task_id": payload.get("task_id"),
        "agent_id": payload.get("agent_id"),
        "status": payload.get("status"),
        "action": data.get("action"),
        "error_code": data.get("error_code"),
        "duration_ms": data.get("duration_ms"),
    }
    try:
        with transaction.atomic():
            event_emit(event_type=outbound, payload=body, subscription_ids=listening)
    except DatabaseError as exc:
        logger.warning("webhook deliveries for %s not recorded: %s", outbound, type(exc).__name__)


# --- delivery -------------------------------------------------------------------------------------
def backoff_seconds(attempts: int) -> float:
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    return float(min(float(settings.WEBHOOK_RETRY_MAX_SECONDS), base * 2 ** max(0, attempts - 1)))


def delivery_schedule(*, delivery_id: str, countdown: float) -> None:
    """Run an attempt on the task queue after ``countdown`` seconds (a restart loses an
    embedded timer: ``deliveries_dispatch_due`` picks such deliveries up again).

    With beat's sweep on, a wait longer than half the visibility timeout (backoffs of
    late attempts: up to WEBHOOK_RETRY_MAX_SECONDS) sends no message: a worker holds a
    countdown message unacknowledged until it is due, so kombu would put it back on the
    queue every visibility timeout, one more copy each time (Celery's Redis caveats).
    The sweep sends the attempt once it is due, at most one sweep interval late."""
    from devskyy.webhooks.tasks import deliver_webhook

    swept = not settings.TASKS_EMBEDDED and settings.WEBHOOK_SWEEP_INTERVAL_SECONDS > 0
    if swept and countdown > settings.CELERY_VISIBILITY_TIMEOUT / 2:
        return
    dispatch_later(deliver_webhook, delivery_id, countdown=countdown)


def deliveries_dispatch_due(*, limit: int = 500) -> int:
    """Queue attempts for pending deliveries already due (and expired claims); returns how many."""
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.DELIVERING, lease_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        delivery_schedule(delivery_id=str(pk), countdown=0)
    return len(due)


def _claim(delivery_id: str) -> WebhookDelivery | None:
    now = timezone.now()
    lease = timedelta(seconds=float(settings.WEBHOOK_TIMEOUT_SECONDS) + _LEASE_MARGIN_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.DELIVERING, lease_until__lt=now),
        pk=delivery_id,
    ).update(
        status=DeliveryStatus.DELIVERING,
        lease_until=now + lease,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)


def _body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def _send(delivery: WebhookDelivery) -> tuple[int | None, str, bool]:
    """(status code, error, permanent) for one POST of the delivery."""
    subscription = delivery.subscription
    if not subscription.active:
        return None, "subscription is inactive", True
    body = _body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DevSkyy-Webhooks/1",
        SIGNATURE_HEADER: sign(subscription.secret, body),
        "X-DevSkyy-Event": delivery.event_type,
        "X-DevSkyy-Delivery": str(delivery.pk),
    }
    try:
        result = safe_fetch(
            subscription.url,
            method="POST",
            headers=headers,
            content=body,
            timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
            max_redirects=0,
            max_bytes=_RESPONSE_LIMIT,
            unsafe_allowed_addresses=_allowed_addresses(),
        )
    except SSRFBlockedError as exc:
        return None, exc.message, True
    except OutboundFetchError as exc:
        return None, exc.message, False
    if 200 <= result.status_code < 300:
        return result.status_code, "", False
    return result.status_code, f"HTTP {result.status_code}", False


def _record(owned: QuerySet[WebhookDelivery], **fields: Any) -> None:
    """Write a sent attempt's outcome (through a short database outage: ``through_outage``).

    Still failing after that, the error propagates; the claim's lease lapses and the
    sweep (``deliveries_dispatch_due``) sends the attempt again, which receivers
    de-duplicate on ``X-DevSkyy-Delivery``."""
    through_outage(lambda: owned.update(**fields), what="writing a webhook delivery's outcome")


def delivery_attempt(*, delivery_id: str) -> AttemptOutcome:
    """Claim and send one attempt; record the outcome. ``retry_in`` says when to try again."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return AttemptOutcome("skipped")
    code, error, permanent = _send(delivery)
    now = timezone.now()
    owned = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.DELIVERING, attempts=delivery.attempts)
    common: dict[str, Any] = {"last_response_code": code, "last_error": error[:500], "lease_until": None}
    if code is not None and 200 <= code < 300:
        _record(owned, status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None, **common)
        WEBHOOK_DELIVERIES.labels(outcome="succeeded").inc()
        return AttemptOutcome("succeeded")
    if permanent or delivery.attempts >= delivery.max_attempts:
        _record(owned, status=DeliveryStatus.DEAD, next_attempt_at=None, **common)
        WEBHOOK_DELIVERIES.labels(outcome="dead").inc()
        logger.warning("webhook delivery %s dead after %d attempt(s): %s", delivery.pk, delivery.attempts, error)
        return AttemptOutcome("dead")
    wait = backoff_seconds(delivery.attempts)
    _record(owned, status=DeliveryStatus.PENDING, next_attempt_at=now + timedelta(seconds=wait), **common)
    WEBHOOK_DELIVERIES.labels(outcome="retry").inc()
    return AttemptOutcome("retry", retry_in=wait)


def delivery_replay(
    *, delivery: WebhookDelivery, actor: Any = None, request: HttpRequest | None = None
) -> WebhookDelivery:
    """Send a dead (or already delivered) delivery again with its kept payload; a fresh attempt budget."""
    with transaction.atomic():
        now = timezone.now()
        reset = WebhookDelivery.objects.filter(
            pk=delivery.pk, status__in=[DeliveryStatus.DEAD, DeliveryStatus.SUCCEEDED]
        ).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            max_attempts=settings.WEBHOOK_MAX_ATTEMPTS,
            next_attempt_at=now,
            lease_until=None,
            delivered_at=None,
            replays=F("replays") + 1,
        )
        if not reset:
            raise ConflictError(
                "Only dead-lettered or delivered deliveries can be replayed; this one is still in progress.",
                code="delivery_in_progress",
                details={"status": delivery.status},
            )
        audit_record(
            action="webhook.delivery_replayed",
            actor=actor,
            target_type="webhook_delivery",
            target_id=str(delivery.pk),
            details={"event_type": delivery.event_type, "previous_status": delivery.status},
            request=request,
        )
        after_commit(_scheduler(str(delivery.pk)), task="devskyy.webhooks.deliver")
    delivery.refresh_from_db()
    return delivery
