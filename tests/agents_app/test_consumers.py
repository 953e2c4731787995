"""The feed consumer in embedded mode (in-memory channel layer, SQLite)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from devskyy.core.events import deliver
from devskyy.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
APP = URLRouter(websocket_urlpatterns)


def _communicator(path: str, user: object) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(APP, path)
    communicator.scope["user"] = user
    return communicator


def test_unknown_channel_and_anonymous_users_are_closed_with_their_codes() -> None:
    async def scenario() -> tuple[object, object]:
        unknown = _communicator("/ws/bogus", AnonymousUser())
        await unknown.connect()
        closed_unknown = await unknown.receive_output(timeout=2)
        anonymous = _communicator("/ws/agents", AnonymousUser())
        await anonymous.connect()
        closed_anonymous = await anonymous.receive_output(timeout=2)
        return closed_unknown, closed_anonymous

    unknown, anonymous = async_to_sync(scenario)()
    assert unknown == {"type": "websocket.close", "code": 4004}
    assert anonymous == {"type": "websocket.close", "code": 4401}


def test_events_published_from_another_thread_reach_the_socket_in_order() -> None:
    user = get_user_model().objects.create_user(username="kim", password="x-long-password-1")

    async def scenario() -> list[dict]:
        ws = _communicator("/ws/agents", user)
        connected, _ = await ws.connect()
        assert connected
        hello = await ws.receive_json_from(timeout=2)
        assert hello["type"] == "connected"
        # Publish the way a request thread does: a plain thread, not the server loop.
        for status in ("running", "idle"):
            await sync_to_async(deliver, thread_sensitive=False)(
                "agents",
                "agent_status_update",
                {"agent_id": "a-1", "status": status, "data": {}},
                "a-1",
                "",
                None,
                True,
            )
        received = [await ws.receive_json_from(timeout=2) for _ in range(2)]
        await ws.send_json_to({"type": "ping"})
        received.append(await ws.receive_json_from(timeout=2))
        await ws.disconnect()
        await asyncio.sleep(0)
        return received

    first, second, pong = async_to_sync(scenario)()
    assert [first["status"], second["status"]] == ["running", "idle"]
    assert second["seq"] == first["seq"] + 1
    assert pong["type"] == "pong"
