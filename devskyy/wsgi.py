"""WSGI entry point: ``gunicorn devskyy.wsgi`` (HTTP only, no WebSockets)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")

application = get_wsgi_application()
