"""WebSocket routes of the agents app: ``/ws/<channel>`` (unknown channels close with 4004)."""

from __future__ import annotations

from django.urls import re_path

from agents_app.consumers import FeedConsumer

websocket_urlpatterns = [re_path(r"^ws/(?P<channel>[A-Za-z0-9_-]{1,64})/?$", FeedConsumer.as_asgi())]
