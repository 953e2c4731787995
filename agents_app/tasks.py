"""Celery tasks of the agents app (``celery -A devskyy.taskqueue worker``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from agents_app.media.tasks import advance_media_job
from agents_app.services.execution import task_execute, tasks_requeue_stale
from devskyy.core.background import periodic_task

# The media task registers with the worker through here.
__all__ = ["advance_media_job", "requeue_lost_tasks", "run_agent_task"]


@shared_task(
    bind=True,
    name="agents_app.tasks.run_agent_task",
    acks_late=True,
    reject_on_worker_lost=True,
    # Transient: the database went away. The attempt's lease lapses and a retry claims it.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=20,
)
def run_agent_task(self: Any, task_id: str) -> str:
    """Run agent task ``task_id`` (an AgentTask row) once; see services.execution."""
    outcome = task_execute(task_id=task_id, worker=self.request.hostname or "embedded")
    if outcome.retry_after is not None and not self.request.is_eager:
        # Another delivery holds a live lease (e.g. a re-delivered message while the
        # first worker still runs it): look again when that lease would have expired.
        raise self.retry(countdown=outcome.retry_after)
    return outcome.outcome


@periodic_task("agents_app.tasks.requeue_lost_tasks")
def requeue_lost_tasks(broker_lost: bool = False) -> int:
    """Beat, every TASK_REQUEUE_INTERVAL_SECONDS: queue again pending tasks whose message
    was lost (a worker killed between taking it and recording it, a Redis data loss).
    ``broker_lost``: sent by a worker that found Redis emptied (devskyy/taskqueue.py):
    every pending task's message is gone, whatever its age."""
    age = 0 if broker_lost else settings.TASK_REQUEUE_PENDING_SECONDS
    return tasks_requeue_stale(
        pending_older_than=timedelta(seconds=age),
        expired_leases=False,  # kombu re-delivers those after the visibility timeout
        limit=settings.TASK_REQUEUE_BATCH,
    )


# Registered with the worker through this module (Celery autodiscovers ``<app>.tasks``).
from agents_app.marketing import tasks as marketing_tasks  # noqa: E402, F401
