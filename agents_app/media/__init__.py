"""3D generation (Tripo) and virtual try-on (FASHN): clients, jobs, services and selectors.

A ``MediaJob`` is created by the API or an agent tool, then advanced on the task queue
one step per run (submit, poll, download) until it succeeds, fails or is cancelled;
see ``services.py`` for the life cycle and ``events.py`` for the ``pipeline_update``
payload.
"""
