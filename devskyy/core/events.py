"""Publishing live events: stored with a sequence number, then broadcast to every web process.

Any process (web or task worker) calls :func:`publish` inside or outside a
transaction. Nothing leaves before the surrounding transaction commits
(``transaction.on_commit``); then the event is serialised to JSON once, and stored
and announced by ONE SQL statement, its own transaction: it takes the feed's
transaction-scoped advisory lock, inserts the :class:`~devskyy.feed.models.FeedEvent`
(which assigns ``seq``) and calls ``pg_notify`` with the event, the ``seq`` spliced in
by the database. The lock is held only while PostgreSQL runs that statement (no
client round trip inside it) and released at its commit, so ``seq`` order is commit
order, and PostgreSQL delivers notifications in commit order: every web process's
hub (devskyy/core/feed_hub.py), and so every consumer, receives live events in
``seq`` order, and a client that resumes after the largest ``seq`` it saw has missed
nothing older. One round trip per event, whatever the number of sockets or
publishers (PERF P4/P5, bench/README.md). SQLite (embedded mode): a process lock, the
ORM insert, and the hub of this process directly.

Apps publish through this module only; ``commerce_app`` never imports ``agents_app``.

What a socket receives is the event itself, ``{"type", ...payload, "timestamp",
"seq"}`` (``seq`` only on stored events); routing data (channel, owner, agent, task)
travels in the envelope's header (devskyy/core/feed_hub.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction

from devskyy.core import durability, feed_hub

logger = logging.getLogger(__name__)

CHANNELS = ("agents", "tasks", "round_table", "3d_pipeline", "metrics")
# Arbitrary constant naming the feed's PostgreSQL advisory lock.
_PG_LOCK_KEY = 0x6465_7673_6B79  # "devsky"
_local_lock = threading.Lock()
# Called by publish() inside the publisher's transaction with (channel, event_type,
# JSON-safe payload); e.g. outbound webhooks turn final task updates into deliveries.
PublishHook = Callable[[str, str, dict[str, Any]], None]
_publish_hooks: list[PublishHook] = []


def add_publish_hook(hook: PublishHook) -> None:
    """Register ``hook`` once (idempotent); it must not raise for the publisher's sake."""
    if hook not in _publish_hooks:
        _publish_hooks.append(hook)


_REPLAY_LIMIT = 10_000


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
    """Store and broadcast now (normally via :func:`publish`); returns the ``seq`` or None."""
    now = datetime.now(UTC)
    event: dict[str, Any] = {"type": event_type, **payload, "timestamp": utc_iso(now)}
    try:
        if not persist:
            _notify_only(feed_hub.pack(channel, None, owner_id, agent_id, task_id, _dumps(event)))
            return None
        if connection.vendor == "postgresql":
            return _store_and_notify(channel, event_type, payload, agent_id, task_id, owner_id, now, event)
        return _store_locally(channel, event_type, payload, agent_id, task_id, owner_id, now, event)
    except DatabaseError as exc:
        # The change itself is committed; only its announcement is lost. Clients that
        # resync through the API still see the truth.
        logger.warning("feed event %s/%s not stored: %s", channel, event_type, type(exc).__name__)
        return None


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def _store_and_notify(
    channel: str,
    event_type: str,
    payload: dict[str, Any],
    agent_id: str,
    task_id: str,
    owner_id: int | None,
    now: datetime,
    event: dict[str, Any],
) -> int:
    from devskyy.feed.models import FeedEvent

    # The event's JSON up to its seq; the database appends the seq and the brace.
    event_prefix = _dumps(event)[:-1] + ',"seq":'
    fetch = len(event_prefix.encode()) + 200 > feed_hub.NOTIFY_MAX_BYTES
    header = feed_hub.header_prefix(channel, owner_id, agent_id, task_id, fetch=fetch)
    body = "" if fetch else event_prefix
    table = connection.ops.quote_name(FeedEvent._meta.db_table)
    # An event alone in its transaction does not wait for the disk (core/durability.py).
    relaxed = durability.relaxed_source()
    sources = f"feed_lock, {relaxed}" if relaxed else "feed_lock"
    sql = f"""
        WITH feed_lock AS (SELECT pg_advisory_xact_lock(%s) AS held),
        stored AS (
            INSERT INTO {table} (channel, type, agent_id, task_id, owner_id, payload, created_at)
            SELECT %s, %s, %s, %s, %s, %s::jsonb, %s FROM {sources}
            RETURNING seq
        )
        SELECT seq, pg_notify(%s, %s || seq::text || %s || %s || CASE WHEN %s THEN '' ELSE seq::text || '}}' END)
        FROM stored
    """  # noqa: S608 - the table name is ours, every value is a parameter
    params: list[Any] = [
        _PG_LOCK_KEY,
        channel,
        event_type,
        agent_id,
        task_id,
        owner_id,
        json.dumps(payload),
        now,
        feed_hub.NOTIFY_CHANNEL,
        header,
        "}\n",
        body,
        fetch,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        seq = int(cursor.fetchone()[0])
    return seq


def _store_locally(
    channel: str,
    event_type: str,
    payload: dict[str, Any],
    agent_id: str,
    task_id: str,
    owner_id: int | None,
    now: datetime,
    event: dict[str, Any],
) -> int:
    from devskyy.feed.models import FeedEvent

    with _local_lock:  # one publisher at a time: seq order is delivery order
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
        feed_hub.dispatch_local(feed_hub.pack(channel, row.seq, owner_id, agent_id, task_id, _dumps(event)))
    return int(row.seq)


def _notify_only(raw: str) -> None:
    """A snapshot that is not stored (no seq): to every hub, in no particular order."""
    if connection.vendor != "postgresql":
        feed_hub.dispatch_local(raw)
        return
    if len(raw.encode()) > feed_hub.NOTIFY_MAX_BYTES:
        logger.warning("feed snapshot of %d bytes not sent: too large for a notification", len(raw))
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [feed_hub.NOTIFY_CHANNEL, raw])


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
