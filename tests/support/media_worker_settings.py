"""Settings for a test Celery worker that runs media jobs against local provider servers.

Test-only, like webhook_worker_settings: production settings never read an SSRF
exemption from the environment; this module, used only as DJANGO_SETTINGS_MODULE of a
worker started by a test, opens the media guard for the loopback ports the test names
(``TEST_MEDIA_ALLOWED_PORTS``, comma-separated).
"""

import os

from devskyy.settings import *  # noqa: F403

MEDIA_UNSAFE_ALLOWED_ADDRESSES = [
    ("127.0.0.1", int(port)) for port in os.environ["TEST_MEDIA_ALLOWED_PORTS"].split(",") if port
]
