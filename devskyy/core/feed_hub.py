"""Per-process fan-out of live events to this process's WebSocket consumers.

Each web process holds one :class:`FeedHub` on its event loop. It receives every
feed event once (production: one PostgreSQL ``LISTEN`` connection per process; the
publisher's ``NOTIFY`` is part of the statement that stores the event, see
devskyy/core/events.py; embedded mode: straight from ``deliver`` in the same process)
and hands it to the local sockets of the event's channel. The event arrives already
serialised (once, by the publisher); the hub parses only a small header (channel,
seq, owner, agent, task) and passes the same text to every socket that may see it.

This replaced one Channels group per channel (PERF P4, bench/README.md): there, a
publish meant one channel-layer message per socket, each stored in Redis, read back,
unpacked and re-serialised by its consumer. Now it is one notification, one receive
per process, one header parse, and one frame write per socket.

Order and gaps. PostgreSQL delivers notifications in commit order, and events commit
in ``seq`` order, so every hub receives them in ``seq`` order. A hub remembers the
last ``seq`` it received; when its connection drops it reconnects and first replays,
from the stored events, everything after that ``seq``, so no stored event is lost to
a reconnect (consumers drop what they already sent). An event too large for a
notification (8,000 bytes) is announced by its header alone and read from the table.
Snapshots without ``seq`` (``metrics_update``) sent while a hub was disconnected are
lost: the next one supersedes them.

Each consumer has its own outbox and sender task, so a slow or stalled socket never
delays the others (see ``agents_app.consumers``).

Envelope (text): ``<header JSON>\\n<event JSON>``; header
``{"c": channel, "o": owner_id | null, "a": agent_id, "t": task_id, ["f": 1,] "s": seq | null}``
(``"f": 1``: the event was too large to travel; read it from the table).
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
from typing import Any, Protocol

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


NOTIFY_CHANNEL = "devskyy_feed"
# PostgreSQL refuses notification payloads of 8,000 bytes or more.
NOTIFY_MAX_BYTES = 7_900


def header_prefix(channel: str, owner_id: int | None, agent_id: str, task_id: str, *, fetch: bool = False) -> str:
    """The header up to its ``seq`` value, which the database appends (events.py)."""
    fields: dict[str, Any] = {"c": channel, "o": owner_id, "a": agent_id, "t": task_id}
    if fetch:
        fields["f"] = 1
    return json.dumps(fields, separators=(",", ":"))[:-1] + ',"s":'


def pack(channel: str, seq: int | None, owner_id: int | None, agent_id: str, task_id: str, event_json: str) -> str:
    seq_text = "null" if seq is None else str(seq)
    return f"{header_prefix(channel, owner_id, agent_id, task_id)}{seq_text}}}\n{event_json}"


class EventNotCarriedError(Exception):
    """The envelope announced an event too large to travel: read it from the table."""

    def __init__(self, seq: int) -> None:
        super().__init__(seq)
        self.seq = seq


def unpack(raw: bytes | str) -> Envelope:
    text = raw.decode() if isinstance(raw, bytes) else raw
    header_text, _, event_text = text.partition("\n")
    header = json.loads(header_text)
    if header.get("f"):
        raise EventNotCarriedError(int(header["s"]))
    return Envelope(header["c"], header["s"], header["o"], header["a"], header["t"], event_text)


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
        """Deliver ``channel``'s events to ``subscriber`` from now on. On PostgreSQL,
        waits (up to ``wait`` seconds) until this hub is listening."""
        self.subscribers.setdefault(channel, set()).add(subscriber)
        if _listens():
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
        except EventNotCarriedError:
            raise
        except (ValueError, KeyError):
            _log.warning("feed hub: malformed envelope dropped")
            return
        self.dispatch(envelope)

    # --- PostgreSQL LISTEN ------------------------------------------------------------
    async def _listen(self) -> None:
        import psycopg
        from channels.db import database_sync_to_async

        attempt = 0
        while any(self.subscribers.values()):
            try:
                params = await database_sync_to_async(_listen_params)()
                conn = await psycopg.AsyncConnection.connect(autocommit=True, **params)
            except Exception as exc:  # noqa: BLE001 - database unreachable: retry with backoff
                _log.warning("feed hub: cannot listen (%s); retrying", type(exc).__name__)
                await asyncio.sleep(_RECONNECT_SECONDS[min(attempt, len(_RECONNECT_SECONDS) - 1)])
                attempt += 1
                continue
            try:
                await conn.execute(f'LISTEN "{NOTIFY_CHANNEL}"')
                if self.last_seq is None:
                    # Baseline after listening: everything newer arrives live.
                    self.last_seq = await database_sync_to_async(_latest_seq)()
                elif self.replay is not None:
                    for envelope in await database_sync_to_async(self.replay)(self.last_seq):
                        self.dispatch(envelope)
                self._subscribed.set()
                attempt = 0
                while any(self.subscribers.values()):
                    async for notify in conn.notifies(timeout=30.0):
                        try:
                            self.dispatch_raw(notify.payload)
                        except EventNotCarriedError as big:
                            if self.replay is not None and self.last_seq is not None:
                                for envelope in await database_sync_to_async(self.replay)(self.last_seq):
                                    if envelope.seq is not None and envelope.seq <= big.seq:
                                        self.dispatch(envelope)
                self.last_seq = None  # nobody listens here now: start afresh next time
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - connection lost: reconnect, then replay
                self._subscribed.clear()
                _log.warning("feed hub: listening connection lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(_RECONNECT_SECONDS[min(attempt, len(_RECONNECT_SECONDS) - 1)])
                attempt += 1
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await conn.close()


def _listens() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def _listen_params() -> dict[str, Any]:
    """libpq parameters of the default database, for a connection of our own."""
    from django.db import connection

    params = dict(connection.get_connection_params())
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return params


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


def dispatch_local(raw: str) -> None:
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
