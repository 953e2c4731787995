"""ASGI entry point serving HTTP and WebSockets from one process.

``daphne devskyy.asgi:application`` or gunicorn with ``devskyy.serving.Worker``.

HTTP goes, by default, to Django's WSGI handler on a thread pool
(devskyy.wsgi_bridge: one thread hop per request): our views are synchronous, and
Django's own ASGI handler costs a sync/async hand-off per request and per middleware
(3-5x the CPU, PERF.md). ASGI_HTTP_MODE=a2wsgi uses the a2wsgi adapter instead
(slower, bench/README.md), ASGI_HTTP_MODE=asgi Django's ASGI handler. WebSockets
always go to Channels.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")

django_asgi_app = get_asgi_application()  # sets Django up before anything imports models

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from devskyy.core.ratelimit import check_on_loop  # noqa: E402
from devskyy.core.stacks import probe_paths, routed_application  # noqa: E402
from devskyy.core.ws_auth import websocket_auth_stack  # noqa: E402
from devskyy.routing import websocket_urlpatterns  # noqa: E402
from devskyy.wsgi_bridge import WSGIBridge  # noqa: E402

http_app: Any
if settings.ASGI_HTTP_MODE == "wsgi":
    http_app = WSGIBridge(
        # Probes, the API and pages each get their own middleware stack (core/stacks.py).
        routed_application(),
        threads=settings.WEB_THREADS,
        max_body_bytes=settings.REQUEST_BODY_MAX_BYTES,
        # Probes never queue behind requests stuck on a dead dependency (wsgi_bridge.py).
        probe_paths=probe_paths(),
        # The rate limiter's Redis round trip, made on the loop instead of a request thread.
        before_thread=check_on_loop,
    )
elif settings.ASGI_HTTP_MODE == "a2wsgi":
    http_app = WSGIMiddleware(get_wsgi_application(), workers=settings.WEB_THREADS)  # type: ignore[arg-type]
else:
    http_app = django_asgi_app

if settings.EMBEDDED_BEAT:
    from devskyy.core import embedded_beat

    embedded_beat.start()  # no celery beat in embedded mode (make run)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Origin check and JWT/session authentication for every connect (close 4403/4401).
        "websocket": websocket_auth_stack(URLRouter(websocket_urlpatterns)),
    }
)
