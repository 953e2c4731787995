"""The live feed: ``/ws/<channel>`` for agents, tasks, round_table, 3d_pipeline, metrics.

Protocol (JSON text frames; every server message has ``type`` and an ISO-8601 UTC
``timestamp``):

client -> server
  ``{"type": "ping"}``                          -> ``{"type": "pong", "timestamp"}``
  ``{"type": "subscribe", "agent_id": ...}``    only events of these agents/tasks from now on
  ``{"type": "subscribe", "task_id": ...}``     (authorized: tasks you may see, agents that exist)
  ``{"type": "unsubscribe", "agent_id"|"task_id": ...}``
  ``{"type": "resume", "after": <seq>}``        stored events with seq > after that you may see
                                                and match your subscriptions, in order, once;
                                                then the live stream continues without repeats
server -> client
  ``{"type": "connected", "channel", "seq"}``   ``seq``: latest stored event at connect time
  events: ``task_update``, ``agent_status_update``, ``metrics_update`` ... (payloads in
  agents_app.events), each stored event with its ``seq``
  ``{"type": "error", "code", "message"}``

Close codes: 4004 unknown channel, 4401 not authenticated, 1013 the socket fell more
than MAX_BACKLOG events behind (reconnect and resume). The consumer reads only
``scope["user"]`` (set by devskyy/core/ws_auth.py) and reaches the ORM only through
``database_sync_to_async``.

Live events come from this process's feed hub (devskyy/core/feed_hub.py), not from a
channel-layer group: the hub offers each event, serialised once by its publisher, to
every local consumer of the channel; the consumer queues it in its own outbox, and
its sender task writes the same text to the socket (no per-socket serialisation). A
slow socket only delays itself. Live sends, replies and resume replays are
serialised per socket, so a resume is never interleaved with live events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents_app import feed_metrics
from agents_app.models import Agent
from agents_app.selectors import can_see_all_tasks, visible_tasks
from devskyy.core import feed_hub
from devskyy.core.events import CHANNELS, events_after, latest_seq, oldest_seq, utc_iso
from devskyy.core.metrics import WEBSOCKET_CONNECTIONS, WEBSOCKET_MESSAGES, SecurityEvent, record_security_event

CLOSE_UNKNOWN_CHANNEL = 4004
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_SLOW = 1013  # "try again later": reconnect and resume
MAX_BACKLOG = 1000
_RESUME_BATCH = 500
_MAX_SUBSCRIPTIONS = 200


def _agent_exists(slug: str) -> bool:
    return Agent.objects.filter(slug=slug).exists()


def _task_visible(user: Any, task_id: str) -> bool:
    return visible_tasks(user).filter(pk=task_id).exists()


class FeedConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    # No channel layer per socket: events arrive through the process's feed hub.
    channel_layer_alias = "devskyy-no-channel-layer"
    channel: str
    joined = False
    _sender: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.channel = self.scope["url_route"]["kwargs"]["channel"]
        self.user = self.scope.get("user")
        self.agent_ids: set[str] = set()
        self.task_ids: set[str] = set()
        self.last_seq = 0  # largest seq sent on this socket
        self._floor = 0  # live events up to the seq announced in "connected" predate the socket
        self._outbox: deque[feed_hub.Envelope] = deque()
        self._wake = asyncio.Event()
        self._serial = asyncio.Lock()  # one writer at a time: replies, resumes, live events
        await self.accept()
        if self.channel not in CHANNELS:
            await self.close(code=CLOSE_UNKNOWN_CHANNEL)
            return
        if self.user is None or not self.user.is_authenticated:
            record_security_event(SecurityEvent.WS_DENIED)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = int(self.user.pk)
        self.see_all = can_see_all_tasks(self.user)
        self._messages = WEBSOCKET_MESSAGES.labels(channel=self.channel)
        async with self._serial:  # live events wait until "connected" is out
            self._hub = feed_hub.hub()
            await self._hub.join(self.channel, self)
            self.joined = True
            self._sender = asyncio.get_running_loop().create_task(self._send_live())
            WEBSOCKET_CONNECTIONS.labels(channel=self.channel).inc()
            feed_metrics.ensure_running()
            # Read after joining the hub: anything newer arrives live, so ``seq`` is a
            # correct resume point even for a client that never saw an event.
            seq = await database_sync_to_async(latest_seq)()
            self._floor = seq
            await self._send({"type": "connected", "channel": self.channel, "seq": seq})
            if self.channel == "metrics":
                data = await database_sync_to_async(feed_metrics.metrics_snapshot)()
                await self._send({"type": "metrics_update", "data": data})

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self._hub.leave(self.channel, self)
            WEBSOCKET_CONNECTIONS.labels(channel=self.channel).dec()
            self.joined = False
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

    async def _send(self, message: dict[str, Any]) -> None:
        message.setdefault("timestamp", utc_iso())
        await self.send(text_data=json.dumps(message))
        self._messages.inc()

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self._send({"type": "error", "code": code, "message": message, **extra})

    # --- live events (called by the hub, on this loop) -----------------------------
    def offer(self, envelope: feed_hub.Envelope) -> None:
        owner = envelope.owner_id
        if owner is not None and owner != self.user_id and not self.see_all:
            return
        if len(self._outbox) >= MAX_BACKLOG:
            self._outbox.clear()
            self._wake.clear()
            asyncio.get_running_loop().create_task(self.close(code=CLOSE_TOO_SLOW))
            return
        self._outbox.append(envelope)
        self._wake.set()

    def _wants(self, envelope: feed_hub.Envelope) -> bool:
        if self.agent_ids or self.task_ids:
            return envelope.agent_id in self.agent_ids or envelope.task_id in self.task_ids
        return True

    async def _send_live(self) -> None:
        while True:
            await self._wake.wait()
            async with self._serial:
                self._wake.clear()
                while self._outbox:
                    envelope = self._outbox.popleft()
                    if not self._wants(envelope):
                        continue
                    seq = envelope.seq
                    if seq is not None:
                        if seq <= self.last_seq or seq <= self._floor:
                            continue  # already sent by a resume, or older than this socket
                        self.last_seq = seq
                    await self.send(text_data=envelope.text)
                    self._messages.inc()

    # --- client messages ----------------------------------------------------------------
    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        async with self._serial:
            await self._handle(content)

    async def _handle(self, content: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self._error("bad_message", 'Messages are JSON objects with a "type".')
            return
        kind = content["type"]
        if kind == "ping":
            await self._send({"type": "pong"})
        elif kind in ("subscribe", "unsubscribe"):
            await self._subscription(kind, content)
        elif kind == "resume":
            after = content.get("after")
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                await self._error("bad_message", '"after" must be a non-negative integer seq.')
                return
            await self._resume(after)
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def _subscription(self, kind: str, content: dict[str, Any]) -> None:
        agent_id, task_id = content.get("agent_id"), content.get("task_id")
        if (agent_id is None) == (task_id is None):
            await self._error("bad_message", f'{kind} takes exactly one of "agent_id" or "task_id".')
            return
        if kind == "unsubscribe":
            self.agent_ids.discard(str(agent_id))
            self.task_ids.discard(str(task_id))
        elif len(self.agent_ids) + len(self.task_ids) >= _MAX_SUBSCRIPTIONS:
            await self._error("too_many_subscriptions", f"At most {_MAX_SUBSCRIPTIONS} subscriptions per socket.")
            return
        elif agent_id is not None:
            if not isinstance(agent_id, str) or not await database_sync_to_async(_agent_exists)(agent_id):
                await self._error("not_found", "No such agent.", agent_id=agent_id)
                return
            self.agent_ids.add(agent_id)
        else:
            try:
                canonical = str(uuid.UUID(str(task_id)))
            except ValueError:
                canonical = ""
            # Same answer for "does not exist" and "not yours": no existence leak.
            if not canonical or not await database_sync_to_async(_task_visible)(self.user, canonical):
                if canonical:
                    record_security_event(SecurityEvent.WS_SUBSCRIBE_DENIED)
                await self._error("not_found", "No such task.", task_id=task_id)
                return
            self.task_ids.add(canonical)
        await self._send({"type": f"{kind}d", "agent_ids": sorted(self.agent_ids), "task_ids": sorted(self.task_ids)})

    async def _resume(self, after: int) -> None:
        oldest = await database_sync_to_async(oldest_seq)()
        if oldest is not None and after + 1 < oldest:
            await self._error(
                "resume_gap",
                "Events after this seq are past the retention window; reload state over the API.",
                oldest_seq=oldest,
            )
        cursor = max(after, self.last_seq)
        while True:
            rows = await database_sync_to_async(events_after)(
                channel=self.channel,
                after=cursor,
                user_id=self.user_id,
                see_all=self.see_all,
                agent_ids=frozenset(self.agent_ids),
                task_ids=frozenset(self.task_ids),
                limit=_RESUME_BATCH,
            )
            for event in rows:
                await self._send(event)
                self.last_seq = max(self.last_seq, event["seq"])
            if len(rows) < _RESUME_BATCH:
                break
            cursor = rows[-1]["seq"]
        # Live events that arrived meanwhile wait in the outbox (the sender needs the
        # serial lock this resume holds) and are dropped there if sent here.
        await self._send({"type": "resumed", "after": after, "seq": self.last_seq})
