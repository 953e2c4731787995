"""Publishing live events: stored with a sequence number, then broadcast to every web process.

Any process (web or task worker) calls :func:`publish` inside or outside a
transaction. Nothing leaves before the surrounding transaction commits
(``transaction.on_commit``); then, under one cluster-wide lock, the event is stored as
a :class:`~devskyy.feed.models.FeedEvent` (which assigns ``seq``), serialised to JSON
once, and published: one Redis PUBLISH that every web process's hub receives
(devskyy/core/feed_hub.py; embedded mode hands it to the hub of this process). The
lock covers only the insert and that one PUBLISH (a single round trip, whatever the
number of sockets), so ``seq`` order is commit order *and* the order in which every
hub, and so every consumer, receives live events: a client that resumes after the
largest ``seq`` it saw has missed nothing older.

Apps publish through this module only; ``commerce_app`` never imports ``agents_app``.

What a socket receives is the event itself, ``{"type", ...payload, "timestamp",
"seq"}`` (``seq`` only on stored events); routing data (channel, owner, agent, task)
travels in the envelope's header (devskyy/core/feed_hub.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction

from devskyy.core import feed_hub
from devskyy.core.logging import Throttled

logger = logging.getLogger(__name__)

CHANNELS = ("agents", "tasks", "round_table", "3d_pipeline", "metrics")
# Arbitrary constant naming the feed's PostgreSQL advisory lock.
_PG_LOCK_KEY = 0x6465_7673_6B79  # "devsky"
_local_lock = threading.Lock()
_REPLAY_LIMIT = 10_000
# A PUBLISH must not hold the feed lock for Redis' full socket timeout.
_PUBLISH_TIMEOUT_SECONDS = 0.5
_publisher: redis.Redis | None = None
_publisher_url: str | None = None
_publisher_open_until = 0.0
_unavailable_log = Throttled(logger, interval=30.0)


def utc_iso(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, as every event timestamp."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """Decimals, datetimes and UUIDs as JSON strings, so every layer backend can carry it."""
    result: dict[str, Any] = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    return result


def publish(
    *,
    channel: str,
    event_type: str,
    payload: dict[str, Any],
    agent_id: str = "",
    task_id: str = "",
    owner_id: int | None = None,
    persist: bool = True,
) -> None:
    """Store (if ``persist``) and broadcast an event once the current transaction commits.

    ``owner_id``: only that user (and staff) may see it; ``None`` means any
    authenticated user. ``persist=False`` is for snapshots superseded by the next one
    (``metrics_update``): they carry no ``seq`` and are not replayed.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    body = json_safe(payload)
    transaction.on_commit(lambda: deliver(channel, event_type, body, agent_id, task_id, owner_id, persist))


def deliver(
    channel: str,
    event_type: str,
    payload: dict[str, Any],
    agent_id: str,
    task_id: str,
    owner_id: int | None,
    persist: bool,
) -> int | None:
    """Store and broadcast now (normally via :func:`publish`); returns the ``seq`` or None."""
    from devskyy.feed.models import FeedEvent

    now = datetime.now(UTC)
    event: dict[str, Any] = {"type": event_type, **payload, "timestamp": utc_iso(now)}
    if not persist:
        _broadcast(feed_hub.pack(channel, None, owner_id, agent_id, task_id, _dumps(event)))
        return None
    try:
        with _ordered():
            row = FeedEvent.objects.create(
                channel=channel,
                type=event_type,
                agent_id=agent_id,
                task_id=task_id,
                owner_id=owner_id,
                payload=payload,
                created_at=now,
            )
            event["seq"] = row.seq
            _broadcast(feed_hub.pack(channel, row.seq, owner_id, agent_id, task_id, _dumps(event)))
    except DatabaseError as exc:
        # The change itself is committed; only its announcement is lost. Clients that
        # resync through the API still see the truth.
        logger.warning("feed event %s/%s not stored: %s", channel, event_type, type(exc).__name__)
        return None
    return row.seq


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


@contextmanager
def _ordered() -> Iterator[None]:
    """One publisher at a time, cluster-wide on PostgreSQL, process-wide on SQLite."""
    if connection.vendor != "postgresql":
        with _local_lock:
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_PG_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_PG_LOCK_KEY])


def _redis_publisher() -> redis.Redis:
    global _publisher, _publisher_url
    if _publisher is None or _publisher_url != settings.REDIS_URL:
        _publisher = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=_PUBLISH_TIMEOUT_SECONDS,
            socket_connect_timeout=_PUBLISH_TIMEOUT_SECONDS,
            health_check_interval=30,
        )
        _publisher_url = settings.REDIS_URL
    return _publisher


def _broadcast(raw: bytes) -> None:
    """One PUBLISH to every web process (embedded: to this process's hubs)."""
    global _publisher_open_until
    if not settings.REDIS_URL:
        feed_hub.dispatch_local(raw)
        return
    if time.monotonic() < _publisher_open_until:
        return  # Redis just failed: stored already; hubs replay it when they reconnect
    try:
        _redis_publisher().publish(feed_hub.pubsub_channel(), raw)
    except (redis.RedisError, OSError) as exc:
        _publisher_open_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS
        # Stored already: a hub that reconnects replays it, a client that resumes gets it.
        _unavailable_log.warning("feed event not broadcast: %s", type(exc).__name__)


# --- reads for the consumers --------------------------------------------------------------
def latest_seq() -> int:
    from devskyy.feed.models import FeedEvent

    last = FeedEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    return int(last or 0)


def oldest_seq() -> int | None:
    from devskyy.feed.models import FeedEvent

    first = FeedEvent.objects.order_by("seq").values_list("seq", flat=True).first()
    return None if first is None else int(first)


def events_after(
    *,
    channel: str,
    after: int,
    user_id: int,
    see_all: bool,
    agent_ids: frozenset[str] = frozenset(),
    task_ids: frozenset[str] = frozenset(),
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Stored events of ``channel`` with ``seq > after`` this user may see, oldest first.

    Applies the same visibility and subscription rules as live delivery
    (see ``agents_app.consumers``).
    """
    from django.db.models import Q

    from devskyy.feed.models import FeedEvent

    qs = FeedEvent.objects.filter(channel=channel, seq__gt=after)
    if not see_all:
        qs = qs.filter(Q(owner_id__isnull=True) | Q(owner_id=user_id))
    if agent_ids or task_ids:
        qs = qs.filter(Q(agent_id__in=agent_ids) | Q(task_id__in=task_ids))
    rows = qs.order_by("seq")[:limit]
    return [{"type": row.type, **row.payload, "timestamp": utc_iso(row.created_at), "seq": row.seq} for row in rows]


def replay_envelopes(after: int) -> list[feed_hub.Envelope]:
    """Stored events with ``seq > after`` as hub envelopes, oldest first (a hub that
    lost its subscription catches up with these)."""
    from devskyy.feed.models import FeedEvent

    rows = FeedEvent.objects.filter(seq__gt=after).order_by("seq")[:_REPLAY_LIMIT]
    return [
        feed_hub.Envelope(
            row.channel,
            row.seq,
            row.owner_id,
            row.agent_id,
            row.task_id,
            _dumps({"type": row.type, **row.payload, "timestamp": utc_iso(row.created_at), "seq": row.seq}),
        )
        for row in rows
    ]


def purge_expired(*, now: datetime | None = None) -> int:
    """Delete events older than EVENT_RETENTION_HOURS; returns how many."""
    from devskyy.feed.models import FeedEvent

    cutoff = (now or datetime.now(UTC)) - timedelta(hours=settings.EVENT_RETENTION_HOURS)
    deleted, _ = FeedEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
