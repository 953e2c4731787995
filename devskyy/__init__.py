"""DevSkyy project package: settings, URLs, ASGI/WSGI entry points and the shared core.

The Celery app becomes the current app in every process that sets Django up (web,
worker, manage.py) from ``CoreConfig.ready``, so ``shared_task``s send to the
configured broker (Celery's Django pattern). It is not imported here: the gunicorn
master imports ``devskyy.serving`` for its worker class and needs neither Celery nor
Django (~19 MB, PERF P6).
"""
