"""Publishing live events: stored with a sequence number, then sent through the channel layer.

Any process (web or task worker) calls :func:`publish` inside or outside a
transaction. Nothing leaves before the surrounding transaction commits
(``transaction.on_commit``); then, under one cluster-wide lock, the event is stored as
a :class:`~devskyy.feed.models.FeedEvent` (which assigns ``seq``) and sent to the
WebSocket group of its channel. Holding the lock across insert and send means ``seq``
order is commit order *and* the order in which every consumer receives live events,
so a client that resumes after the largest ``seq`` it saw has missed nothing older.

Apps publish through this module only; ``commerce_app`` never imports ``agents_app``.

Message sent to each consumer (channel-layer type ``feed.event``)::

    {"type": "feed.event", "event": {"type", "seq", "timestamp", ...payload},
     "owner_id": int | None, "agent_id": str, "task_id": str}
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CHANNELS = ("agents", "tasks", "round_table", "3d_pipeline", "metrics")
# Arbitrary constant naming the feed's PostgreSQL advisory lock.
_PG_LOCK_KEY = 0x6465_7673_6B79  # "devsky"
_local_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
# Called by publish() inside the publisher's transaction with (channel, event_type,
# JSON-safe payload); e.g. outbound webhooks turn final task updates into deliveries.
PublishHook = Callable[[str, str, dict[str, Any]], None]
_publish_hooks: list[PublishHook] = []


def add_publish_hook(hook: PublishHook) -> None:
    """Register ``hook`` once (idempotent); it must not raise for the publisher's sake."""
    if hook not in _publish_hooks:
        _publish_hooks.append(hook)


def group_name(channel: str) -> str:
    return f"feed.{channel}"


def utc_iso(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, as every event timestamp."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """Decimals, datetimes and UUIDs as JSON strings, so every layer backend can carry it."""
    result: dict[str, Any] = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    return result


def register_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by consumers: sends from other threads of this process run on this loop.

    The in-memory layer (embedded mode) is not thread-safe and channels-redis keeps
    one connection pool per loop; sending on the server's own loop suits both.
    """
    global _loop
    _loop = loop


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
    for hook in _publish_hooks:
        hook(channel, event_type, body)
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
    """Store and send now (normally via :func:`publish`); returns the ``seq`` or None."""
    from devskyy.feed.models import FeedEvent

    now = datetime.now(UTC)
    event: dict[str, Any] = {"type": event_type, **payload, "timestamp": utc_iso(now)}
    meta = {"owner_id": owner_id, "agent_id": agent_id, "task_id": task_id}
    if not persist:
        _send(channel, {"type": "feed.event", "event": event, **meta})
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
            _send(channel, {"type": "feed.event", "event": event, **meta})
    except DatabaseError as exc:
        # The change itself is committed; only its announcement is lost. Clients that
        # resync through the API still see the truth.
        logger.warning("feed event %s/%s not stored: %s", channel, event_type, type(exc).__name__)
        return None
    return row.seq


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


def _send(channel: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
        return
    timeout = float(settings.REDIS_SOCKET_TIMEOUT)

    async def bounded() -> None:
        await asyncio.wait_for(layer.group_send(group_name(channel), message), timeout)

    try:
        _run(bounded(), timeout + 1)
    except (RedisError, OSError, TimeoutError, RuntimeError) as exc:
        # Stored already: a client that reconnects and resumes still receives it.
        logger.warning("feed event on %s not broadcast: %s", channel, type(exc).__name__)


def _run(coro: Coroutine[Any, Any, None], timeout: float) -> None:
    loop = _loop
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # called from the loop itself: cannot block it
            loop.create_task(coro)
            return
        asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
        return
    async_to_sync(_await)(coro)


async def _await(coro: Coroutine[Any, Any, None]) -> None:
    await coro


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


def purge_expired(*, now: datetime | None = None) -> int:
    """Delete events older than EVENT_RETENTION_HOURS; returns how many."""
    from devskyy.feed.models import FeedEvent

    cutoff = (now or datetime.now(UTC)) - timedelta(hours=settings.EVENT_RETENTION_HOURS)
    deleted, _ = FeedEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
