"""DevSkyy project package: settings, URLs, ASGI/WSGI entry points and the shared core."""

# The Celery app must be the current app in every process (web, worker, manage.py)
# so that ``shared_task``s send to the configured broker (Celery's Django pattern).
from devskyy.taskqueue import app as celery_app

__all__ = ["celery_app"]
