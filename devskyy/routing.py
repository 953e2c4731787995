"""WebSocket routes (``/ws/<channel>``), composed from the apps' routing modules."""

from __future__ import annotations

from typing import Any

from agents_app.routing import websocket_urlpatterns as agents_routes

websocket_urlpatterns: list[Any] = [*agents_routes]
