"""Gunicorn worker class for the ASGI app (HTTP + WebSockets).

uvicorn with uvloop and httptools (PITFALLS: without uvicorn[standard] WebSocket
upgrades are refused). Django and Channels do not speak the lifespan protocol, so
it is off; uvicorn's access log is off because our middleware logs each request
with its request id.
"""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets",
        "lifespan": "off",
        "access_log": False,
        "server_header": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,
    }
