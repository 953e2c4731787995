"""Production settings plus a URL conf with a slow route, for the shutdown tests.

A server started with ``DJANGO_SETTINGS_MODULE=tests.reliability.slow_settings``
serves everything production serves and ``/slow`` (tests/reliability/slow_urls.py),
which production URLs never contain.
"""

from devskyy.settings import *  # noqa: F403

ROOT_URLCONF = "tests.reliability.slow_urls"
