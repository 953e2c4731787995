"""Task-driven agent status events are throttled per agent (agents_app/events.py)."""

from __future__ import annotations

import pytest

from agents_app.events import agent_load_changed
from agents_app.models import Agent, AgentTask, TaskStatus
from devskyy.feed.models import FeedEvent
from tests.support.servers import poll

pytestmark = pytest.mark.django_db(transaction=True)


def _agent_events(agent: Agent) -> list[dict]:
    rows = FeedEvent.objects.filter(channel="agents", agent_id=agent.slug).order_by("seq")
    return [row.payload for row in rows]


@pytest.fixture
def agent() -> Agent:
    return Agent.objects.create(slug="operations-901", type="t", name="T", category="operations")


def test_without_an_interval_every_start_and_finish_is_announced(agent: Agent) -> None:
    running = AgentTask.objects.create(agent=agent, action="x", status=TaskStatus.RUNNING)
    agent_load_changed(agent, reason="task_started", task_id=str(running.pk))
    running.status = TaskStatus.COMPLETED
    running.save()
    agent_load_changed(agent, reason="task_finished", task_id=str(running.pk))
    assert [(e["status"], e["data"]["running_tasks"]) for e in _agent_events(agent)] == [("running", 1), ("idle", 0)]


def test_a_burst_is_one_update_at_once_and_one_trailing_update_with_the_final_count(agent: Agent, settings) -> None:
    settings.AGENT_STATUS_EVENT_SECONDS = 0.3
    tasks = [AgentTask.objects.create(agent=agent, action="x", status=TaskStatus.RUNNING) for _ in range(3)]
    for task in tasks:
        agent_load_changed(agent, reason="task_started", task_id=str(task.pk))
    assert [e["data"]["running_tasks"] for e in _agent_events(agent)] == [3]
    AgentTask.objects.filter(agent=agent).update(status=TaskStatus.COMPLETED)
    for task in tasks:
        agent_load_changed(agent, reason="task_finished", task_id=str(task.pk))

    def settled() -> bool:
        last = _agent_events(agent)[-1]
        return (last["status"], last["data"]["running_tasks"]) == ("idle", 0)

    assert poll(settled, timeout=10), _agent_events(agent)
    assert len(_agent_events(agent)) <= 3  # six changes, at most three announcements
