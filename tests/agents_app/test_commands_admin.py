"""Maintenance commands and admin actions call the services and say what they did."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from agents_app.models import Agent, AgentTask, TaskStatus
from devskyy.feed.models import FeedEvent

pytestmark = pytest.mark.django_db


def test_requeue_stale_tasks_queues_old_pending_and_expired_leases_only(monkeypatch) -> None:
    from devskyy.core import background

    sent: list[str] = []
    monkeypatch.setattr(background, "dispatch_now", lambda task, task_id: sent.append(task_id))
    agent = Agent.objects.create(slug="analytics-900", type="t", name="A", category="analytics")
    old = timezone.now() - timedelta(minutes=30)
    stale_pending = AgentTask.objects.create(agent=agent, action="sales_summary", created_at=old)
    AgentTask.objects.create(agent=agent, action="sales_summary")  # fresh: its message is still queued
    expired = AgentTask.objects.create(
        agent=agent, action="sales_summary", status=TaskStatus.RUNNING, lease_expires_at=timezone.now() - timedelta(1)
    )
    AgentTask.objects.create(
        agent=agent, action="sales_summary", status=TaskStatus.RUNNING, lease_expires_at=timezone.now() + timedelta(1)
    )
    out = io.StringIO()
    call_command("requeue_stale_tasks", stdout=out)
    assert "requeued 2 task(s)" in out.getvalue()
    assert sorted(sent) == sorted([str(stale_pending.pk), str(expired.pk)])


@override_settings(TASK_REQUEUE_PENDING_SECONDS=300, TASK_REQUEUE_BATCH=2)
def test_beat_sweep_queues_old_pending_tasks_once_per_period_oldest_first(monkeypatch) -> None:
    from agents_app.tasks import requeue_lost_tasks
    from devskyy.core import background

    sent: list[str] = []
    monkeypatch.setattr(background, "dispatch_now", lambda task, task_id: sent.append(task_id))
    agent = Agent.objects.create(slug="analytics-900", type="t", name="A", category="analytics")
    now = timezone.now()
    oldest, older, old = (
        AgentTask.objects.create(agent=agent, action="sales_summary", created_at=now - timedelta(minutes=m))
        for m in (30, 20, 10)
    )
    AgentTask.objects.create(agent=agent, action="sales_summary", created_at=now - timedelta(seconds=200))  # young
    AgentTask.objects.create(
        agent=agent, action="sales_summary", created_at=now - timedelta(hours=1), cancel_requested=True
    )
    AgentTask.objects.create(  # lost lease: kombu re-delivers its unacknowledged message; not this sweep's
        agent=agent, action="sales_summary", status=TaskStatus.RUNNING, lease_expires_at=now - timedelta(1)
    )

    assert requeue_lost_tasks.apply().get() == 2
    assert sent == [str(oldest.pk), str(older.pk)]  # the batch cap takes the oldest
    assert requeue_lost_tasks.apply().get() == 1
    assert sent[2:] == [str(old.pk)]
    assert requeue_lost_tasks.apply().get() == 0  # each queued again at most once per period

    # A period after the last requeue, a task still pending is queued again.
    AgentTask.objects.filter(pk=oldest.pk).update(requeued_at=now - timedelta(seconds=301))
    assert requeue_lost_tasks.apply().get() == 1
    assert sent[3:] == [str(oldest.pk)]
    oldest.refresh_from_db()
    assert oldest.requeued_at is not None
    assert oldest.requeued_at > now


@pytest.mark.django_db(transaction=True)
@override_settings(TASK_REQUEUE_PENDING_SECONDS=300)
def test_a_task_the_broker_refused_is_marked_and_the_next_sweep_queues_it_young(monkeypatch) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    from agents_app.services.tasks import task_create
    from agents_app.tasks import requeue_lost_tasks
    from devskyy.core import background

    def unreachable(task: object, task_id: str) -> None:
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(background, "dispatch_now", unreachable)
    monkeypatch.setattr(background, "_broker_down_until", 0.0)  # restored after: the breaker it opens
    Agent.objects.create(slug="operations-961", type="t", name="O", category="operations", tools=["task_queue_report"])
    created = task_create(agent_slug="operations-961", action="task_queue_report", parameters={}, user=None)
    task = AgentTask.objects.get(pk=created.task.pk)
    assert task.status == TaskStatus.PENDING
    assert task.enqueue_failed_at is not None

    sent: list[str] = []
    monkeypatch.setattr(background, "dispatch_now", lambda task, task_id: sent.append(task_id))
    assert requeue_lost_tasks.apply().get() == 1  # seconds old, not 300: the mark, not the age
    assert sent == [str(task.pk)]
    task.refresh_from_db()
    assert task.enqueue_failed_at is None
    assert requeue_lost_tasks.apply().get() == 0  # once


def test_beat_schedule_names_registered_tasks_and_each_interval_can_turn_its_entry_off() -> None:
    import importlib

    from devskyy.settings import integrations, marketing
    from devskyy.settings import tasks as task_settings
    from devskyy.taskqueue import app

    intervals = {
        "woocommerce-sync": ("commerce_app.tasks.sync_shop", "WOOCOMMERCE_SYNC_INTERVAL_SECONDS"),
        "webhook-deliveries-due": ("devskyy.webhooks.dispatch_due", "WEBHOOK_SWEEP_INTERVAL_SECONDS"),
        "media-jobs-stale": ("agents_app.media.requeue_stale", "MEDIA_SWEEP_INTERVAL_SECONDS"),
        "marketing-dispatch": (
            "agents_app.marketing.tasks.dispatch_due_campaigns",
            "MARKETING_DISPATCH_INTERVAL_SECONDS",
        ),
        "requeue-lost-tasks": ("agents_app.tasks.requeue_lost_tasks", "TASK_REQUEUE_INTERVAL_SECONDS"),
    }
    app.loader.import_default_modules()  # what a worker registers at start
    assert set(settings.CELERY_BEAT_SCHEDULE) == set(intervals)
    for name, (task, setting) in intervals.items():
        seconds = float(getattr(settings, setting))
        assert settings.CELERY_BEAT_SCHEDULE[name] == {
            "task": task,
            "schedule": seconds,
            "options": {"expires": seconds},
        }
        assert task in app.tasks, task  # beat would queue a task no worker knows
    try:
        with pytest.MonkeyPatch.context() as patch:
            for _, setting in intervals.values():
                patch.setenv(setting, "0")
            for module in (integrations, marketing, task_settings):
                importlib.reload(module)
            assert task_settings.CELERY_BEAT_SCHEDULE == {}
        with pytest.MonkeyPatch.context() as patch:  # media retention runs only when it has a period
            patch.setenv("MEDIA_RETENTION_DAYS", "30")
            patch.setenv("MEDIA_RETENTION_CHECK_SECONDS", "900")
            for module in (integrations, marketing, task_settings):
                importlib.reload(module)
            entry = task_settings.CELERY_BEAT_SCHEDULE["media-retention"]
            assert entry == {"task": "agents_app.media.purge_expired", "schedule": 900.0, "options": {"expires": 900.0}}
            assert entry["task"] in app.tasks
    finally:
        for module in (integrations, marketing, task_settings):
            importlib.reload(module)


@override_settings(EVENT_RETENTION_HOURS=1)
def test_purge_events_drops_only_events_past_retention() -> None:
    now = timezone.now()
    FeedEvent.objects.create(channel="agents", type="agent_status_update", created_at=now - timedelta(hours=2))
    kept = FeedEvent.objects.create(channel="agents", type="agent_status_update", created_at=now)
    out = io.StringIO()
    call_command("purge_events", stdout=out)
    assert "purged 1 feed event(s)" in out.getvalue()
    assert list(FeedEvent.objects.values_list("seq", flat=True)) == [kept.seq]


def test_admin_cancel_action_cancels_through_the_service(admin_client: Client) -> None:
    agent = Agent.objects.create(slug="analytics-900", type="t", name="A", category="analytics")
    task = AgentTask.objects.create(agent=agent, action="sales_summary")
    response = admin_client.post(
        "/admin/agents_app/agenttask/", {"action": "cancel_tasks", "_selected_action": [str(task.pk)]}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert admin_client.get("/admin/agents_app/agenttask/").status_code == 200
    assert admin_client.get("/admin/commerce_app/order/").status_code == 200
    assert admin_client.get("/admin/commerce_app/product/").status_code == 200
