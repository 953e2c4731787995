"""A bare Django project for PERF P3's comparison point: no middleware, no apps.

Served by the same gunicorn set-up as DevSkyy so the only difference measured is
what DevSkyy adds (middleware, metrics, request ids, logging, CORS, security headers).
"""

SECRET_KEY = "bench-only-not-a-secret-" + "x" * 40  # noqa: S105 - benchmark app, never deployed
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.bare.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
