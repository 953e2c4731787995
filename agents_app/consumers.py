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

Close codes: 4004 unknown channel, 4401 not authenticated. The consumer reads only
``scope["user"]`` (session auth now; the JWT middleware replaces the stack later) and
reaches the ORM only through ``database_sync_to_async``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents_app import feed_metrics
from agents_app.models import Agent
from agents_app.selectors import can_see_all_tasks, visible_tasks
from devskyy.core.events import CHANNELS, events_after, group_name, latest_seq, oldest_seq, register_loop, utc_iso
from devskyy.core.metrics import WEBSOCKET_CONNECTIONS, WEBSOCKET_MESSAGES, SecurityEvent, record_security_event

CLOSE_UNKNOWN_CHANNEL = 4004
CLOSE_UNAUTHENTICATED = 4401
_RESUME_BATCH = 500
_MAX_SUBSCRIPTIONS = 200


def _agent_exists(slug: str) -> bool:
    return Agent.objects.filter(slug=slug).exists()


def _task_visible(user: Any, task_id: str) -> bool:
    return visible_tasks(user).filter(pk=task_id).exists()


class FeedConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    channel: str
    joined = False

    async def connect(self) -> None:
        self.channel = self.scope["url_route"]["kwargs"]["channel"]
        self.user = self.scope.get("user")
        self.agent_ids: set[str] = set()
        self.task_ids: set[str] = set()
        self.last_seq = 0
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
        register_loop(asyncio.get_running_loop())
        await self.channel_layer.group_add(group_name(self.channel), self.channel_name)
        self.joined = True
        WEBSOCKET_CONNECTIONS.labels(channel=self.channel).inc()
        feed_metrics.ensure_running()
        # Read after joining the group: anything newer arrives live, so ``seq`` is a
        # correct resume point even for a client that never saw an event.
        seq = await database_sync_to_async(latest_seq)()
        await self._send({"type": "connected", "channel": self.channel, "seq": seq})
        if self.channel == "metrics":
            data = await database_sync_to_async(feed_metrics.metrics_snapshot)()
            await self._send({"type": "metrics_update", "data": data})

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(group_name(self.channel), self.channel_name)
            WEBSOCKET_CONNECTIONS.labels(channel=self.channel).dec()
            self.joined = False

    async def _send(self, message: dict[str, Any]) -> None:
        message.setdefault("timestamp", utc_iso())
        await self.send_json(message)
        WEBSOCKET_MESSAGES.labels(channel=self.channel).inc()

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self._send({"type": "error", "code": code, "message": message, **extra})

    # --- client messages ----------------------------------------------------------------
    async def receive_json(self, content: Any, **kwargs: Any) -> None:
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
        # Live events that arrived meanwhile wait in the layer and are handled next;
        # feed_event drops those already sent here (seq <= last_seq).
        await self._send({"type": "resumed", "after": after, "seq": self.last_seq})

    # --- channel-layer events -----------------------------------------------------------
    async def feed_event(self, message: dict[str, Any]) -> None:
        event: dict[str, Any] = message["event"]
        owner = message.get("owner_id")
        if owner is not None and owner != self.user_id and not self.see_all:
            return
        if (self.agent_ids or self.task_ids) and not (
            message.get("agent_id") in self.agent_ids or message.get("task_id") in self.task_ids
        ):
            return
        seq = event.get("seq")
        if seq is not None:
            if seq <= self.last_seq:
                return  # already delivered by a resume
            self.last_seq = seq
        await self._send(dict(event))
