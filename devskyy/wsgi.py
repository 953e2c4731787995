"""WSGI entry point: ``gunicorn devskyy.wsgi`` (HTTP only, no WebSockets)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")
django.setup(set_prefix=False)  # what get_wsgi_application() does first

from devskyy.core.stacks import routed_application  # noqa: E402

# Probes, the API and pages each get their own middleware stack (core/stacks.py).
application = routed_application()
