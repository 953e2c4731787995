"""Garbage collection after start-up (PERF P1-P3, P5; measured in bench/README.md).

A started web or task worker holds ~130,000 long-lived objects (modules, classes,
functions, settings). CPython's full collections walk all of them, and requests
allocate enough to trigger one every few dozen requests: ~120 us of every `/live`
request's CPU went to scanning objects that can never be garbage. ``gc.freeze()``
moves everything alive after start-up into a permanent generation the collector
skips; garbage made by requests is still collected as before.

Called in each gunicorn worker after its app is loaded (``post_worker_init`` in
gunicorn.conf.py) and in each Celery pool process (devskyy/taskqueue.py).
``GC_FREEZE_AFTER_START=false`` turns it off.
"""

from __future__ import annotations

import gc

from django.conf import settings


def freeze_startup_objects(*, forked: bool = False) -> bool:
    """Load the URL conf (views, serializers) and freeze what is alive; True if frozen.

    ``forked``: a pool process forked from a parent that loaded everything (Celery
    prefork). No collection then: a collection writes to every object's header and
    would copy every page the child shares with its parent (measured: +166 MB PSS for
    a Celery worker with 2 children); freezing alone moves no object.
    """
    # gunicorn.conf.py also serves the benchmarks' comparison points: a bare Django
    # project (bench/bare, settings without this name: the same front, the same freeze)
    # and the old FastAPI stack (bench/fastapi_baseline: no Django settings, left as it was).
    if not settings.configured or not getattr(settings, "GC_FREEZE_AFTER_START", True):
        return False
    if not forked:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - imports every view before the freeze
        gc.collect()  # garbage from start-up is freed, not frozen
    gc.freeze()
    return True
