"""Per-process fan-out of live events to this process's WebSocket consumers.

Each web process holds one :class:`FeedHub` on its event loop. It receives every
feed event once (production: one Redis pub/sub subscription per process; embedded
mode: straight from :func:`devskyy.core.events.deliver` in the same process) and
hands it to the local sockets of the event's channel. The event arrives already
serialised (once, by the publisher); the hub parses only a small header (channel,
seq, owner, agent, task) and passes the same text to every socket that may see it.

This replaced one Channels group per channel (PERF P4, bench/README.md): there, a
publish meant one channel-layer message per socket, each stored in Redis, read back,
unpacked and re-serialised by its consumer. Now it is one PUBLISH, one receive per
process, one header parse, and one frame write per socket.

Order and gaps. The publisher publishes under the feed lock, so every hub receives
events in ``seq`` order. A hub remembers the last ``seq`` it received; when its Redis
connection drops it reconnects and first replays, from the stored events, everything
after that ``seq``, so no stored event is lost to a reconnect (consumers drop what
they already sent). Snapshots without ``seq`` (``metrics_update``) published while
disconnected are lost: the next one supersedes them.

Each consumer has its own outbox and sender task, so a slow or stalled socket never
delays the others (see ``agents_app.consumers``).

Envelope (bytes): ``<header JSON>\\n<event JSON>``; header
``{"c": channel, "s": seq | null, "o": owner_id | null, "a": agent_id, "t": task_id}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from devskyy.core.logging import Throttled

logger = logging.getLogger(__name__)
_log = Throttled(logger, interval=30.0)
_RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class Envelope:
    channel: str
    seq: int | None
    owner_id: int | None
    agent_id: str
    task_id: str
    text: str  # the event, serialised once by the publisher


def pack(channel: str, seq: int | None, owner_id: int | None, agent_id: str, task_id: str, event_json: str) -> bytes:
    header = json.dumps({"c": channel, "s": seq, "o": owner_id, "a": agent_id, "t": task_id}, separators=(",", ":"))
    return f"{header}\n{event_json}".encode()


def unpack(raw: bytes | str) -> Envelope:
    text = raw.decode() if isinstance(raw, bytes) else raw
    header_text, _, event_text = text.partition("\n")
    header = json.loads(header_text)
    return Envelope(header["c"], header["s"], header["o"], header["a"], header["t"], event_text)


def pubsub_channel() -> str:
    return f"{settings.CACHE_KEY_PREFIX}:feed"


class Subscriber(Protocol):
    def offer(self, envelope: Envelope) -> None: ...


class FeedHub:
    """The fan-out point of one event loop (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, replay: Callable[[int], list[Envelope]] | None) -> None:
        self.loop = loop
        self.replay = replay  # stored events after a seq, as envelopes (sync; runs on a thread)
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.last_seq: int | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    # --- consumers ------------------------------------------------------------------
    async def join(self, channel: str, subscriber: Subscriber, *, wait: float = 5.0) -> None:
        """Deliver ``channel``'s events to ``subscriber`` from now on. With Redis, waits
        (up to ``wait`` seconds) until this hub's subscription is live."""
        self.subscribers.setdefault(channel, set()).add(subscriber)
        if settings.REDIS_URL:
            if self._listener is None or self._listener.done():
                self._listener = self.loop.create_task(self._listen(), name="devskyy-feed-hub")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), wait)

    def leave(self, channel: str, subscriber: Subscriber) -> None:
        members = self.subscribers.get(channel)
        if members is not None:
            members.discard(subscriber)

    def dispatch(self, envelope: Envelope) -> None:
        """On the hub's loop: hand one event to every local subscriber of its channel."""
        if envelope.seq is not None:
            if self.last_seq is not None and envelope.seq <= self.last_seq:
                return  # seen already (a replay overlapping the live stream)
            self.last_seq = envelope.seq
        for subscriber in tuple(self.subscribers.get(envelope.channel, ())):
            try:
                subscriber.offer(envelope)
            except Exception:
                logger.exception("feed subscriber refused an event")

    def dispatch_raw(self, raw: bytes | str) -> None:
        try:
            envelope = unpack(raw)
        except (ValueError, KeyError):
            _log.warning("feed hub: malformed envelope dropped")
            return
        self.dispatch(envelope)

    # --- Redis ----------------------------------------------------------------------
    async def _listen(self) -> None:
        import redis.asyncio as aioredis
        from channels.db import database_sync_to_async

        attempt = 0
        while any(self.subscribers.values()):
            client = aioredis.Redis.from_url(
                settings.REDIS_URL,
                socket_connect_timeout=float(settings.REDIS_CONNECT_TIMEOUT),
                health_check_interval=30,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(pubsub_channel())
                if self.last_seq is None and self.replay is not None:
                    # Baseline after subscribing: everything newer arrives live.
                    self.last_seq = await database_sync_to_async(_latest_seq)()
                elif self.replay is not None and self.last_seq is not None:
                    for envelope in await database_sync_to_async(self.replay)(self.last_seq):
                        self.dispatch(envelope)
                self._subscribed.set()
                attempt = 0
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is not None and message.get("type") == "message":
                        self.dispatch_raw(message["data"])
                    elif not any(self.subscribers.values()):
                        return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis or database trouble: reconnect and replay
                self._subscribed.clear()
                _log.warning("feed hub: subscription lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(_RECONNECT_SECONDS[min(attempt, len(_RECONNECT_SECONDS) - 1)])
                attempt += 1
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
        self._subscribed.clear()


def _latest_seq() -> int:
    from devskyy.core.events import latest_seq

    return latest_seq()


# --- one hub per event loop of this process -----------------------------------------------
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FeedHub] = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def hub() -> FeedHub:
    """The hub of the running event loop (created on first use)."""
    from devskyy.core.events import replay_envelopes

    loop = asyncio.get_running_loop()
    with _hubs_lock:
        found = _hubs.get(loop)
        if found is None:
            found = FeedHub(loop, replay_envelopes)
            _hubs[loop] = found
        return found


def dispatch_local(raw: bytes) -> None:
    """Embedded mode: hand an envelope to every hub of this process, on its own loop."""
    with _hubs_lock:
        hubs = list(_hubs.values())
    for found in hubs:
        if found.loop.is_closed():
            continue
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is found.loop:
            found.dispatch_raw(raw)
        else:
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                found.loop.call_soon_threadsafe(found.dispatch_raw, raw)
