"""Settings for a test Celery worker that delivers webhooks to a receiver on loopback.

Test-only: production settings never read an SSRF exemption from the environment
(devskyy/settings/integrations.py); this module, used only as DJANGO_SETTINGS_MODULE of
a worker started by a test, opens the guard for the one receiver port the test names.
"""

import os

from devskyy.settings import *  # noqa: F403

WEBHOOK_UNSAFE_ALLOWED_ADDRESSES = [("127.0.0.1", int(os.environ["TEST_WEBHOOK_RECEIVER_PORT"]))]
