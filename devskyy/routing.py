"""WebSocket routes (``/ws/<channel>``), composed from the apps' routing modules."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
