"""The per-process feed hub (devskyy/core/feed_hub.py) and the consumer's outbox."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

import pytest
from django.conf import settings
from websockets.sync.client import connect

from agents_app.consumers import CLOSE_TOO_SLOW, MAX_BACKLOG, FeedConsumer
from devskyy.core import feed_hub
from devskyy.core.events import deliver
from tests.support.auth import access_token, make_user
from tests.support.servers import gunicorn


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[feed_hub.Envelope] = []

    def offer(self, envelope: feed_hub.Envelope) -> None:
        self.seen.append(envelope)


def test_an_envelope_carries_the_event_text_untouched() -> None:
    event = json.dumps({"type": "task_update", "status": "running", "seq": 7, "note": "é\nline"})
    raw = feed_hub.pack("tasks", 7, 3, "analytics-001", "t-1", event)
    envelope = feed_hub.unpack(raw)
    assert envelope == feed_hub.Envelope("tasks", 7, 3, "analytics-001", "t-1", event)


def test_the_hub_hands_each_stored_event_once_and_only_to_its_channel() -> None:
    async def scenario() -> tuple[list[int | None], list[int | None]]:
        hub = feed_hub.FeedHub(asyncio.get_running_loop(), replay=None)
        tasks, agents = _Recorder(), _Recorder()
        hub.subscribers = {"tasks": {tasks}, "agents": {agents}}
        for seq, channel in ((1, "tasks"), (2, "agents"), (2, "agents"), (1, "tasks"), (3, "tasks")):
            hub.dispatch(feed_hub.Envelope(channel, seq, None, "", "", "{}"))
        hub.dispatch(feed_hub.Envelope("tasks", None, None, "", "", "{}"))  # a snapshot: no seq
        return [e.seq for e in tasks.seen], [e.seq for e in agents.seen]

    tasks_seen, agents_seen = asyncio.run(scenario())
    assert tasks_seen == [1, 3, None]
    assert agents_seen == [2]


def test_a_socket_that_falls_too_far_behind_is_closed_to_resume_later() -> None:
    closed: list[int] = []

    async def scenario() -> int:
        consumer = FeedConsumer()
        consumer.user_id, consumer.see_all = 1, False
        consumer._outbox = deque()
        consumer._wake = asyncio.Event()

        async def close(code: int | None = None) -> None:
            closed.append(code or 0)

        consumer.close = close
        for seq in range(MAX_BACKLOG + 1):
            consumer.offer(feed_hub.Envelope("agents", seq + 1, None, "", "", "{}"))
        await asyncio.sleep(0)
        return len(consumer._outbox)

    assert asyncio.run(scenario()) == 0
    assert closed == [CLOSE_TOO_SLOW]


def test_events_owned_by_someone_else_never_enter_the_outbox() -> None:
    async def scenario() -> int:
        consumer = FeedConsumer()
        consumer.user_id, consumer.see_all = 1, False
        consumer._outbox = deque()
        consumer._wake = asyncio.Event()
        consumer.offer(feed_hub.Envelope("tasks", 1, 2, "", "t", "{}"))
        consumer.offer(feed_hub.Envelope("tasks", 2, 1, "", "t", "{}"))
        return len(consumer._outbox)

    assert asyncio.run(scenario()) == 1


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_hub_that_lost_its_connection_replays_the_stored_events_it_missed(server_env: dict[str, str]) -> None:
    from django.db import connection

    user = make_user()
    env = {**server_env, "SECRET_KEY": settings.SECRET_KEY, "JWT_SECRET_KEY": settings.JWT_SECRET_KEY}
    with gunicorn(env, workers=1) as server:
        url = server.url.replace("http://", "ws://") + "/ws/agents?token=" + access_token(user)
        with connect(url, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "connected"
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = %s",
                    [f'LISTEN "{feed_hub.NOTIFY_CHANNEL}"'],
                )
                assert cursor.fetchall() == [(True,)]
            # Nobody listens in that process now: this notification reaches no hub.
            missed = deliver(
                "agents", "agent_status_update", {"agent_id": "x-1", "status": "idle"}, "x-1", "", None, True
            )
            assert missed is not None
            received: dict[str, Any] = json.loads(ws.recv(timeout=20))
            note = "y" * (feed_hub.NOTIFY_MAX_BYTES + 100)  # too large to travel: read from the table
            large = deliver(
                "agents", "agent_status_update", {"agent_id": "x-1", "data": {"note": note}}, "x-1", "", None, True
            )
            received_large: dict[str, Any] = json.loads(ws.recv(timeout=20))
    assert received["type"] == "agent_status_update"
    assert received["seq"] == missed
    assert (received_large["seq"], received_large["data"]["note"]) == (large, note)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_event_too_large_to_notify_is_read_from_the_table() -> None:
    from devskyy.core.events import replay_envelopes

    big = "x" * (feed_hub.NOTIFY_MAX_BYTES + 100)
    seq = deliver(
        "agents",
        "agent_status_update",
        {"agent_id": "x-1", "status": "idle", "data": {"note": big}},
        "x-1",
        "",
        None,
        True,
    )
    assert seq is not None
    (envelope,) = [e for e in replay_envelopes(seq - 1) if e.seq == seq]
    assert json.loads(envelope.text)["data"]["note"] == big
    with pytest.raises(feed_hub.EventNotCarriedError):
        feed_hub.unpack(feed_hub.header_prefix("agents", None, "x-1", "", fetch=True) + f"{seq}}}\n")
