"""Creating, cancelling and retrying agent tasks (the request side of the lifecycle)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents_app.events import publish_task_update
from agents_app.exceptions import (
    AgentStoppedError,
    TaskNotCancellableError,
    ToolInputInvalidError,
    ToolNotAllowedError,
    check_same_request,
)
from agents_app.models import Agent, AgentStatus, AgentTask, TaskStatus
from agents_app.services.agents import agent_get
from agents_app.tools.base import Tool, get_tool, validate_input
from agents_app.tools.integrations import check_requirements
from devskyy.core.api_keys import key_owner
from devskyy.core.background import enqueue, mark_enqueue_failed

LLM_ACTION = "llm_complete"


@dataclass(frozen=True)
class CreatedTask:
    task: AgentTask
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def resolve_action(agent: Agent, action: str, parameters: dict[str, Any], *, use_round_table: bool) -> Tool:
    """The tool behind ``action`` for ``agent``, with parameters validated; raises 4xx/503 errors.

    Checks, in order: the tool exists, the agent may use it, its integrations are
    configured (fail fast, 503), the round table applies (LLM actions only), and the
    parameters match the tool's schema (400 listing each error).
    """
    tool = get_tool(action)
    if action not in agent.tools:
        raise ToolNotAllowedError(
            f"Agent {agent.slug!r} may not use tool {action!r}.",
            details={"agent_id": agent.slug, "tool": action, "allowed": agent.tools},
        )
    check_requirements(tool.requires | ({"llm"} if use_round_table else set()))
    if use_round_table and tool.kind != "llm":
        raise ToolInputInvalidError(
            "use_round_table applies to LLM prompts only, not to tool actions.",
            details={"errors": [{"path": "/use_round_table", "message": "only for LLM prompts"}]},
        )
    validate_input(tool, parameters)
    return tool


def request_hash(*, agent_slug: str, action: str, parameters: dict[str, Any], use_round_table: bool) -> str:
    body = {"agent": agent_slug, "action": action, "parameters": parameters, "use_round_table": use_round_table}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(existing: AgentTask, digest: str) -> CreatedTask:
    check_same_request(existing.request_hash, digest, details={"task_id": str(existing.id)})
    return CreatedTask(task=existing, created=False)


def _user_id(user: AbstractBaseUser | AnonymousUser | None) -> int | None:
    # An API key principal is authenticated but has no user row (pk None): key_owner.
    if user is None or not user.is_authenticated or user.pk is None:
        return None
    return int(user.pk)


def task_create(
    *,
    agent_slug: str,
    action: str,
    parameters: dict[str, Any],
    user: AbstractBaseUser | AnonymousUser | None,
    idempotency_key: str | None = None,
    use_round_table: bool = False,
) -> CreatedTask:
    """Persist a pending task and queue it for a worker after commit.

    With ``idempotency_key``: the same key and body from the same user returns the
    task made the first time (``created=False``); the same key with another body
    raises ``IdempotencyConflictError``. Nothing is written when validation fails.

    Reads and validation run before any transaction is opened (outside one, agent_get
    serves its kept copy of the agents); the row is one INSERT, and the event and the
    queue message follow its commit (or the caller's, when it holds a transaction).
    """
    user_id = _user_id(user)
    key = key_owner(user)
    digest = request_hash(agent_slug=agent_slug, action=action, parameters=parameters, use_round_table=use_round_table)
    if idempotency_key is not None:
        existing = (
            AgentTask.objects.select_related("agent")
            .filter(requested_by_id=user_id, requested_by_key=key, idempotency_key=idempotency_key)
            .first()
        )
        if existing is not None:
            return _replay(existing, digest)
    agent = agent_get(agent_slug)
    if not agent.enabled or agent.status == AgentStatus.DISABLED:
        raise AgentStoppedError(f"Agent {agent.slug!r} is stopped; start it first.", details={"agent_id": agent.slug})
    resolve_action(agent, action, parameters, use_round_table=use_round_table)
    fields = {
        "agent": agent,
        "action": action,
        "parameters": parameters,
        "use_round_table": use_round_table,
        "requested_by_id": user_id,
        "requested_by_key": key,
        "idempotency_key": idempotency_key,
        "request_hash": digest,
    }
    if idempotency_key is None:  # nothing to race for: one statement, no transaction of its own
        task = AgentTask.objects.create(**fields)
        queue_task(task, agent.slug)
        return CreatedTask(task=task, created=True)
    try:
        with transaction.atomic():
            task = AgentTask.objects.create(**fields)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its task.
        existing = AgentTask.objects.select_related("agent").get(
            requested_by_id=user_id, requested_by_key=key, idempotency_key=idempotency_key
        )
        return _replay(existing, digest)
    queue_task(task, agent.slug)
    return CreatedTask(task=task, created=True)


def queue_task(task: AgentTask, agent_slug: str) -> None:
    """Announce a new pending task and hand it to a worker after commit."""
    from agents_app.tasks import run_agent_task

    publish_task_update(task, agent_slug=agent_slug)
    task_id = str(task.id)
    enqueue(  # not taken by the broker: marked, the next sweep queues it whatever its age
        run_agent_task,
        task_id,
        on_failure=lambda: mark_enqueue_failed(AgentTask.objects.filter(pk=task_id, status=TaskStatus.PENDING)),
    )


@transaction.atomic
def task_cancel(*, task: AgentTask) -> AgentTask:
    """Cancel: a pending task never starts; a running one stops at its next checkpoint.

    Finished tasks raise ``TaskNotCancellableError``. Idempotent for a running task whose
    cancel is already requested.
    """
    locked = AgentTask.objects.select_for_update().select_related("agent").get(pk=task.pk)
    if locked.status == TaskStatus.PENDING:
        locked.status = TaskStatus.CANCELLED
        locked.cancel_requested = True
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "cancel_requested", "finished_at"])
        publish_task_update(locked, agent_slug=locked.agent.slug, extra={"reason": "cancelled before start"})
        after_task_final(str(locked.id))
    elif locked.status == TaskStatus.RUNNING:
        if not locked.cancel_requested:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
            publish_task_update(locked, agent_slug=locked.agent.slug, extra={"cancel_requested": True})
    else:
        raise TaskNotCancellableError(
            f"Task is already {locked.status}.", details={"task_id": str(locked.id), "status": locked.status}
        )
    return locked


def after_task_final(task_id: str, *, in_workflow: bool | None = None) -> None:
    """A task reached a final state: once that commits, advance its workflow run, if any.

    ``in_workflow``: whether the task is a workflow step, when the caller knows (the
    worker's claim reads it); False skips the lookup."""
    if in_workflow is False:
        return
    from agents_app.services.workflows import workflow_task_finished

    transaction.on_commit(lambda: workflow_task_finished(task_id=task_id))


@transaction.atomic
def task_retry(*, task: AgentTask, user: AbstractBaseUser | AnonymousUser | None) -> AgentTask:
    """A new pending task with the same agent, action and parameters as a failed/cancelled one."""
    if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        raise TaskNotCancellableError(
            f"Only failed or cancelled tasks can be retried; this one is {task.status}.",
            details={"task_id": str(task.id), "status": task.status},
            code="task_not_retryable",
        )
    agent = task.agent
    resolve_action(agent, task.action, task.parameters, use_round_table=task.use_round_table)
    # The caller owns the retry (a user or an API key); without one (the admin's system
    # actions) it stays with the original requester.
    retrier_id, retrier_key = _user_id(user), key_owner(user)
    retried_by_caller = retrier_id is not None or bool(retrier_key)
    retry = AgentTask.objects.create(
        agent=agent,
        action=task.action,
        parameters=task.parameters,
        use_round_table=task.use_round_table,
        requested_by_id=retrier_id if retried_by_caller else task.requested_by_id,
        requested_by_key=retrier_key if retried_by_caller else task.requested_by_key,
        request_hash=task.request_hash,
        retry_of=task,
    )
    queue_task(retry, agent.slug)
    return retry
