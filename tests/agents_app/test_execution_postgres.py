"""The execution tests again on PostgreSQL: the claim there is one UPDATE ... FROM ...
RETURNING statement (agents_app/services/execution.py), not the ORM's portable pair."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agents_app.tools.base import register
from tests.agents_app.test_execution import *  # noqa: F403 - the same tests and fixtures
from tests.support.pg_faults import backend_killer
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = [pytest.mark.services, pytest.mark.django_db]  # type: ignore[assignment]


@pytest.mark.django_db(transaction=True)
def test_a_claimed_tasks_agent_comes_from_the_kept_copy_and_follows_edits() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents_app.models import Agent, AgentTask
    from agents_app.services.execution import task_claim

    agent = Agent.objects.create(
        slug="operations-980", type="t", name="E", category="operations", tools=["x"], system_prompt="first"
    )
    first = AgentTask.objects.create(agent=agent, action="x")
    claimed, _ = task_claim(task_id=str(first.pk), worker="w1")
    assert claimed is not None
    assert claimed.agent.system_prompt == "first"

    second = AgentTask.objects.create(agent=agent, action="x")
    with CaptureQueriesContext(connection) as queries:
        claimed, _ = task_claim(task_id=str(second.pk), worker="w1")
    assert claimed is not None
    assert claimed.agent.slug == "operations-980"
    assert len(queries) == 1, [q["sql"] for q in queries]  # the claim; the agent is kept

    agent.system_prompt = "second"
    agent.save()  # bumps the agents version after commit
    third = AgentTask.objects.create(agent=agent, action="x")
    claimed, _ = task_claim(task_id=str(third.pk), worker="w1")
    assert claimed is not None
    assert claimed.agent.system_prompt == "second"


_backend_killed_runs: list[str] = []


@register("test_backend_killed", description="test: loses its connection", category="operations", schema={})
def _terminate_own_backend(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A tool during whose run the task's database connection dies (a restart, a
    terminated backend): what the worker finds when it records the outcome."""
    _backend_killed_runs.append(str(ctx.task_id))
    backend_killer()()
    ctx.checkpoint(50)  # meets the dead connection
    backend_killer()()  # and so does the finish (on the checkpoint's new connection)
    return {"ran": len(_backend_killed_runs)}


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_the_tool_ran_does_not_run_the_tool_again() -> None:
    """The checkpoint and the finish are written on a new connection (core/durability.py,
    through_outage): the task completes on its first attempt and its tool ran once,
    instead of failing at the checkpoint, or staying ``running`` until its lease lapses
    and running again."""
    from agents_app.models import Agent, AgentTask, TaskStatus
    from agents_app.services.execution import task_execute

    agent = Agent.objects.create(
        slug="operations-981", type="t", name="K", category="operations", tools=["test_backend_killed"]
    )
    task = AgentTask.objects.create(agent=agent, action="test_backend_killed")
    _backend_killed_runs.clear()

    assert task_execute(task_id=str(task.pk), worker="w1").outcome == "completed"

    task.refresh_from_db()
    assert (task.status, task.attempts, task.result) == (TaskStatus.COMPLETED, 1, {"ran": 1})
    assert task.lease_expires_at is None
    assert task.progress == 100
    assert _backend_killed_runs == [str(task.pk)]


_answer_lost: dict[str, Any] = {}


@register("test_answer_lost", description="test: its outcome's answer is lost", category="operations", schema={})
def _lose_the_finish_answer(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A tool after which the commit of the task's outcome succeeds but its answer never
    reaches the worker (the connection fails at that moment)."""
    _answer_lost["runs"] = _answer_lost.get("runs", 0) + 1
    _answer_lost["proxy"].lose_answer_to(b'"finished_at" = ')
    return {"ran": _answer_lost["runs"]}


@pytest.fixture
def connection_through_proxy() -> Iterator[TcpProxy]:
    """This thread's Django connection, reconnected through a loopback TCP proxy."""
    from django.db import connection

    settings = connection.settings_dict
    kept = settings["HOST"], settings["PORT"]
    with tcp_proxy(int(settings["PORT"] or 5432), settings["HOST"] or "127.0.0.1") as proxy:
        connection.close()
        settings["HOST"], settings["PORT"] = "127.0.0.1", str(proxy.port)
        try:
            yield proxy
        finally:
            connection.close()
            settings["HOST"], settings["PORT"] = kept


@pytest.mark.django_db(transaction=True)
def test_an_outcome_whose_commit_answer_was_lost_is_still_announced(connection_through_proxy: TcpProxy) -> None:
    """The finish committed but its answer was lost: the retry on a new connection finds
    the row as this attempt left it and counts it as its own, so the task's final event
    is published (and a workflow would advance), instead of "no longer owned"."""
    from agents_app.models import Agent, AgentTask, TaskStatus
    from agents_app.services.execution import task_execute
    from devskyy.feed.models import FeedEvent

    agent = Agent.objects.create(
        slug="operations-982", type="t", name="L", category="operations", tools=["test_answer_lost"]
    )
    task = AgentTask.objects.create(agent=agent, action="test_answer_lost")
    _answer_lost.clear()
    _answer_lost["proxy"] = connection_through_proxy

    assert task_execute(task_id=str(task.pk), worker="w1").outcome == "completed"

    assert connection_through_proxy.answers_lost == 1
    task.refresh_from_db()
    assert (task.status, task.attempts, task.result, task.progress) == (TaskStatus.COMPLETED, 1, {"ran": 1}, 100)
    assert _answer_lost["runs"] == 1
    statuses = list(
        FeedEvent.objects.filter(task_id=str(task.pk), type="task_update")
        .order_by("seq")
        .values_list("payload__status", flat=True)
    )
    assert statuses == ["running", "completed"]
