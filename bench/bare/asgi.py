"""The bare app behind the same ASGI front as devskyy.asgi (devskyy.wsgi_bridge thread pool).

ASGI_HTTP_MODE=a2wsgi puts it behind the a2wsgi adapter instead, as DevSkyy can be.
"""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

from devskyy.wsgi_bridge import WSGIBridge

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")
_threads = int(os.environ.get("WEB_THREADS", "4"))
application: object
if os.environ.get("ASGI_HTTP_MODE") == "a2wsgi":
    application = WSGIMiddleware(get_wsgi_application(), workers=_threads)  # type: ignore[arg-type]
else:
    application = WSGIBridge(get_wsgi_application(), threads=_threads, max_body_bytes=50 * 1024 * 1024)
