"""Running a task on a worker: claim, run the tool with checkpoints, finish exactly once.

Exactly-once completion rests on two conditional UPDATEs:

* claim: ``pending -> running`` (not cancel-requested), or ``running`` whose lease
  expired (its worker died) -> ``running`` again; each claim increments ``attempts``
  and sets a lease of TASK_LEASE_SECONDS, renewed at every checkpoint.
* finish: ``running`` *and* ``attempts == <our attempt>`` -> final status. An attempt
  that lost its lease can no longer finish (or checkpoint), so at most one attempt
  ever completes a task, however often the queue delivers it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection
from django.db.models import F, Field, Model, Q
from django.utils import timezone

from agents_app.agent_list import agents_list_changed
from agents_app.events import agent_load_changed, publish_task_update
from agents_app.exceptions import LeaseLost, TaskCancelled
from agents_app.llm.selectors import last_llm_call, spend_totals
from agents_app.models import AgentTask, TaskStatus, WorkflowStep
from agents_app.services.agents import agent_by_id
from agents_app.services.tasks import LLM_ACTION, after_task_final
from agents_app.tools.base import get_tool, registry, validate_input
from agents_app.tools.integrations import check_requirements
from devskyy.core import durability
from devskyy.core.errors import DomainError
from devskyy.core.events import json_safe
from devskyy.core.metrics import AGENT_TASK_DURATION, AGENT_TASKS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What a delivery of the task did. ``retry_after``: another attempt holds a live lease."""

    outcome: str  # completed | failed | cancelled | already_final | missing | busy | lease_lost
    retry_after: float | None = None


def _lease_until() -> Any:
    return timezone.now() + timedelta(seconds=settings.TASK_LEASE_SECONDS)


def task_claim(*, task_id: str, worker: str) -> tuple[AgentTask | None, RunOutcome | None]:
    """Claim the task for this attempt; returns (task, None) or (None, why not)."""
    task, refused, _ = _claim(task_id, worker)
    return task, refused


def _claim(task_id: str, worker: str) -> tuple[AgentTask | None, RunOutcome | None, bool | None]:
    """:func:`task_claim`, and whether the task is a workflow step (None: not looked up)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        claimed_row = _claim_returning(task_id, worker, now)
        if claimed_row is not None:
            agents_list_changed()  # tasksRunning
            return claimed_row[0], None, claimed_row[1]
        claimed = 0  # not claimable: find out why below
    else:
        claimable = Q(status=TaskStatus.PENDING, cancel_requested=False) | Q(
            status=TaskStatus.RUNNING, lease_expires_at__lt=now
        )
        claimed = (
            AgentTask.objects.filter(pk=task_id)
            .filter(claimable)
            .update(
                status=TaskStatus.RUNNING,
                attempts=F("attempts") + 1,
                started_at=now,
                progress=0,
                lease_expires_at=_lease_until(),
                worker=worker[:200],
            )
        )
    task = AgentTask.objects.select_related("agent").filter(pk=task_id).first()
    if task is None:
        return None, RunOutcome("missing"), None
    if claimed:
        agents_list_changed()  # tasksRunning
        return task, None, None
    if task.status == TaskStatus.PENDING and task.cancel_requested:
        _finish(task, TaskStatus.CANCELLED, {})
        return None, RunOutcome("cancelled"), None
    if task.status == TaskStatus.RUNNING and task.lease_expires_at is not None:
        retry_after = max(0.5, (task.lease_expires_at - now).total_seconds() + 0.5)
        return None, RunOutcome("busy", retry_after=retry_after), None
    return None, RunOutcome("already_final"), None


def _claim_sql() -> str:
    # A claim alone in its transaction does not wait for the disk (core/durability.py).
    return _claim_statement(durability.relaxed_source())


@functools.cache
def _claim_statement(relaxed_source: str | None) -> str:
    """The claim's SQL, built once per process and variant (it runs once per task)."""
    task_table = connection.ops.quote_name(AgentTask._meta.db_table)
    quote = connection.ops.quote_name
    # The agent comes from the process's kept copy (services.agents.agent_by_id): its
    # row, JSON columns and all, decoded per task, was a fifth of the claim's cost.
    columns = [f"t.{quote(f.column)}" for f in AgentTask._meta.concrete_fields]
    # Last: is the task a workflow step? (Steps are linked to their task in the
    # transaction that creates it, before it is queued.) Saves a query when it finishes.
    step_table = quote(WorkflowStep._meta.db_table)
    step_task = quote(WorkflowStep._meta.get_field("task").column)
    columns.append(f"EXISTS (SELECT 1 FROM {step_table} AS s WHERE s.{step_task} = t.id)")  # noqa: S608
    relaxed = f" FROM {relaxed_source}" if relaxed_source else ""
    # Table and column names are ours; every value is a parameter.
    return (
        f"UPDATE {task_table} AS t SET status = %s, attempts = t.attempts + 1, started_at = %s, progress = 0, "  # noqa: S608
        f"lease_expires_at = %s, worker = %s{relaxed} "
        "WHERE t.id = %s AND ((t.status = %s AND NOT t.cancel_requested) "
        "OR (t.status = %s AND t.lease_expires_at < %s)) "
        f"RETURNING {', '.join(columns)}"
    )


def _instance(model: type[Model], values: Sequence[Any]) -> Any:
    """A model instance from raw column values, converted as the ORM would."""
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        converters = [*connection.ops.get_db_converters(field.cached_col), *field.get_db_converters(connection)]  # type: ignore[attr-defined]
        for converter in converters:
            value = converter(value, field.cached_col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def _claim_returning(task_id: str, worker: str, now: datetime) -> tuple[AgentTask, bool] | None:
    """PostgreSQL: claim and read the task, and whether it is a workflow step, in one
    statement (PERF P5: the claim was an UPDATE and a SELECT, each compiled by the ORM,
    and finishing asked for the step with another query); its agent from the kept copy."""
    params = [
        TaskStatus.RUNNING.value,
        now,
        _lease_until(),
        worker[:200],
        task_id,
        TaskStatus.PENDING.value,
        TaskStatus.RUNNING.value,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    task: AgentTask = _instance(AgentTask, row[:-1])
    task.agent = agent_by_id(task.agent_id)
    return task, bool(row[-1])


_OWNED = "status = %s AND attempts = %s"
_OWNED_NOT_CANCELLED = "status = %s AND attempts = %s AND NOT cancel_requested"
_OWNED_OR_CANCEL_REQUESTED = "((status = %s AND attempts = %s) OR (status = %s AND cancel_requested))"
_RECORDED_BY_US = "(status = %s AND attempts = %s AND finished_at = %s)"


@functools.cache
def _task_fields() -> dict[str, Field[Any, Any]]:
    return {field.name: field for field in AgentTask._meta.concrete_fields}


def _update_owned(
    task_pk: Any, values: dict[str, Any], condition: str, condition_params: list[Any], *, relaxed: bool = False
) -> int:
    """UPDATE the task's row with ``values`` where ``condition`` holds; rows changed.

    ``relaxed``: outside a transaction, the commit does not wait for the disk
    (core/durability.py; checkpoints: the next one renews the lease again).

    Written out rather than built by the ORM (PERF P5): a checkpoint and a finish run
    once per task, and compiling the ORM's UPDATE cost ~330 us of CPU against ~100 us
    for the statement itself. Values are prepared by their model fields (JSON, dates,
    decimals as the ORM would store them); ``condition`` uses column names of
    AgentTask and only placeholders for values.
    """
    quote = connection.ops.quote_name
    concrete = _task_fields()
    fields = [concrete[name] for name in values]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    pk = concrete["id"].get_db_prep_value(task_pk, connection)
    table = quote(AgentTask._meta.db_table)
    source = durability.relaxed_source() if relaxed else None
    relax = f" FROM {source}" if source else ""
    sql = f"UPDATE {table} SET {assignments}{relax} WHERE id = %s AND {condition}"  # noqa: S608 - names are ours
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk, *condition_params])
        return int(cursor.rowcount)


class TaskContext:
    """Passed to tools: ``checkpoint(progress)`` renews the lease and honours cancellation.

    LLM runs also ``record_step`` each model call and tool run: kept in ``steps`` (they
    end up in the task's result, on failure too) and streamed as ``task_update``.

    Progress events are coalesced: a changed progress is published only if the last
    event of this task left at least TASK_PROGRESS_EVENT_SECONDS ago (the ``running``
    event counts), so a task that checkpoints often, or finishes quickly, does not
    flood the feed; its final progress arrives with the ``completed`` event (PERF P5).
    The row's progress is written at every checkpoint regardless.
    """

    def __init__(self, task: AgentTask) -> None:
        self.task = task
        self.task_id: str | None = str(task.id)
        self.agent_slug = task.agent.slug
        self.attempt = task.attempts
        self.use_round_table = task.use_round_table
        self.owner_id: int | None = task.requested_by_id
        self.steps: list[dict[str, Any]] = []
        self._last_progress = task.progress
        self._last_event_at = time.monotonic()  # the "running" event was just published

    @property
    def progress(self) -> int:
        return self._last_progress

    def checkpoint(self, progress: int, *, extra: dict[str, Any] | None = None) -> None:
        progress = max(0, min(100, int(progress)))
        # One conditional UPDATE in the common case; the reason is looked up only when
        # it changes nothing (lease lost, or cancellation requested). A short database
        # outage is waited out (core/durability.py): the tool's work so far stands.
        updated = durability.through_outage(
            lambda: _update_owned(
                self.task.pk,
                {"progress": progress, "lease_expires_at": _lease_until()},
                _OWNED_NOT_CANCELLED,
                [TaskStatus.RUNNING.value, self.attempt],
                relaxed=True,
            ),
            what=f"checkpointing task {self.task.pk}",
        )
        if not updated:
            row = AgentTask.objects.filter(pk=self.task.pk).values("status", "attempts", "cancel_requested").first()
            owned = row is not None and row["status"] == TaskStatus.RUNNING and row["attempts"] == self.attempt
            if owned and row is not None and row["cancel_requested"]:
                raise TaskCancelled(str(self.task.pk))
            raise LeaseLost(str(self.task.pk))
        if progress != self._last_progress or extra:
            self._last_progress = progress
            self.task.progress = progress
            now = time.monotonic()
            # LLM step summaries always go out (each is news); plain progress is coalesced.
            if extra or now - self._last_event_at >= settings.TASK_PROGRESS_EVENT_SECONDS:
                self._last_event_at = now
                publish_task_update(self.task, agent_slug=self.agent_slug, extra=extra)

    def record_step(self, step: dict[str, Any], *, progress: int, summary: dict[str, Any]) -> None:
        """Keep ``step`` for the result and stream ``summary`` as a progress event."""
        self.steps.append(step)
        self.checkpoint(progress, extra={"step": summary})


def _finish(task: AgentTask, status: str, fields: dict[str, Any], *, in_workflow: bool | None = None) -> bool:
    """Move the task to a final status if this attempt still owns it; publish; count.

    ``in_workflow``: whether the task is a workflow step, if known (None: look it up)."""
    now = timezone.now()
    duration_ms = int((now - task.started_at).total_seconds() * 1000) if task.started_at else None
    values = {"status": status, "finished_at": now, "duration_ms": duration_ms, "lease_expires_at": None, **fields}
    owned: list[Any] = [TaskStatus.RUNNING.value, task.attempts]
    if status == TaskStatus.CANCELLED:
        condition, params = _OWNED_OR_CANCEL_REQUESTED, [*owned, TaskStatus.PENDING.value]
    else:
        condition, params = _OWNED, owned
    # A retry after a commit whose answer was lost finds the row as this call left it
    # (its own finished_at, as the database stores it): still ours, so it is announced.
    stored_now = _task_fields()["finished_at"].get_db_prep_value(now, connection)
    condition, params = f"({condition} OR {_RECORDED_BY_US})", [*params, status, task.attempts, stored_now]
    # The tool has run: a short database outage must not make it run again (core/durability.py).
    updated = durability.through_outage(
        lambda: _update_owned(task.pk, values, condition, params), what=f"recording task {task.pk} {status}"
    )
    if not updated:
        return False
    agents_list_changed()  # counts, latency, cost
    for name, value in values.items():  # the row now holds exactly these (no re-read)
        setattr(task, name, value)
    publish_task_update(task, agent_slug=task.agent.slug)
    agent_load_changed(task.agent, reason="task_finished", task_id=str(task.id))
    AGENT_TASKS.labels(category=task.agent.category, status=status).inc()
    if duration_ms is not None and status == TaskStatus.COMPLETED:
        AGENT_TASK_DURATION.labels(category=task.agent.category).observe(duration_ms / 1000)
    after_task_final(str(task.id), in_workflow=in_workflow)
    return True


def _spend(task: AgentTask, result: Any = None) -> dict[str, Any]:
    """Provider, model, tokens and cost of the task's LLM calls, summed from the spend
    ledger (cache hits cost nothing and add no tokens). Only LLM tools (``llm_complete``,
    ``campaign_write_copy``...) spend; other tool actions spend nothing."""
    tool = registry().get(task.action)
    if task.action != LLM_ACTION and (tool is None or tool.kind != "llm"):
        return {}
    totals, last = durability.through_outage(
        lambda: (spend_totals(task_id=str(task.id)), last_llm_call(task_id=str(task.id))),
        what=f"reading task {task.pk}'s spend",
    )
    fields: dict[str, Any] = {
        "tokens": totals["prompt_tokens"] + totals["completion_tokens"],
        "cost": totals["amount_usd"].quantize(Decimal("0.000001")),
    }
    answered = result if isinstance(result, dict) else {}
    provider = answered.get("provider") or (last[0] if last else "")
    model = answered.get("model") or (last[1] if last else "")
    if provider:
        fields["provider"], fields["model"] = str(provider)[:32], str(model)[:128]
    return fields


def _partial(task: AgentTask, context: TaskContext) -> dict[str, Any]:
    """What a task that did not complete still records: its steps so far and its spend."""
    fields = _spend(task)
    if context.steps:
        fields["result"] = json_safe({"steps": context.steps})
    return fields


def task_execute(*, task_id: str, worker: str) -> RunOutcome:
    """One delivery of a task: claim it, run its tool, record the outcome."""
    task, refused, in_workflow = _claim(task_id, worker)
    if task is None or refused is not None:
        refused = refused or RunOutcome("missing")
        logger.info("task %s not run: %s", task_id, refused.outcome)
        return refused
    publish_task_update(task, agent_slug=task.agent.slug)
    agent_load_changed(task.agent, reason="task_started", task_id=task_id)
    context = TaskContext(task)
    started = time.monotonic()
    try:
        tool = get_tool(task.action)
        check_requirements(tool.requires)
        params = validate_input(tool, task.parameters)
        result = tool.fn(context, params)
    except TaskCancelled:
        _finish(task, TaskStatus.CANCELLED, _partial(task, context), in_workflow=in_workflow)
        return RunOutcome("cancelled")
    except LeaseLost:
        logger.warning("task %s attempt %s lost its lease; another attempt owns it", task_id, task.attempts)
        return RunOutcome("lease_lost")
    except DomainError as exc:
        failed = {"error": exc.message, "error_code": exc.code, **_partial(task, context)}
        _finish(task, TaskStatus.FAILED, failed, in_workflow=in_workflow)
        return RunOutcome("failed")
    except SoftTimeLimitExceeded:
        fields = {"error": "time limit exceeded", "error_code": "time_limit", **_partial(task, context)}
        _finish(task, TaskStatus.FAILED, fields, in_workflow=in_workflow)
        return RunOutcome("failed")
    except Exception as exc:  # noqa: BLE001 - a tool bug fails its task; the worker carries on
        logger.exception("task %s: tool %s raised", task_id, task.action)
        fields = {
            "error": f"internal error ({type(exc).__name__})",
            "error_code": "internal",
            **_partial(task, context),
        }
        _finish(task, TaskStatus.FAILED, fields, in_workflow=in_workflow)
        return RunOutcome("failed")
    elapsed = time.monotonic() - started
    if context.steps and isinstance(result, dict):
        result = {**result, "steps": context.steps}
    done = {"result": json_safe(result), "progress": 100, **_spend(task, result)}
    if not _finish(task, TaskStatus.COMPLETED, done, in_workflow=in_workflow):
        logger.warning(
            "task %s finished after %.1fs but attempt %s no longer owned it", task_id, elapsed, task.attempts
        )
        return RunOutcome("lease_lost")
    return RunOutcome("completed")


def tasks_requeue_stale(*, pending_older_than: timedelta, expired_leases: bool = True, limit: int | None = None) -> int:
    """Queue again tasks whose message may be lost: pending ones not claimed for
    ``pending_older_than`` since they were created or last queued again by this sweep,
    pending ones whose first hand-over to the broker failed (``enqueue_failed_at``,
    whatever their age), and (``expired_leases``) running ones whose lease expired.

    A queue message can be lost outright: Redis pops it for a worker that dies before
    recording it as unacknowledged (kombu's Redis transport does the two in separate
    calls), or Redis loses its data. Nothing else would ever run such a task. Safe to
    run any time: a duplicate delivery cannot double-run a task (claims are
    conditional). Each pending task is queued again at most once per
    ``pending_older_than`` (``requeued_at``), so repeated sweeps over a long backlog
    add one message per task per period, not one per sweep. ``limit``: the oldest
    first. Returns how many were queued.
    """
    from agents_app.tasks import run_agent_task
    from devskyy.core.background import dispatch_now

    now = timezone.now()
    cutoff = now - pending_older_than
    stale = Q(
        Q(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff), created_at__lt=cutoff)
        | Q(enqueue_failed_at__isnull=False),  # never reached the broker: no need to wait
        status=TaskStatus.PENDING,
        cancel_requested=False,
    )
    if expired_leases:
        stale |= Q(status=TaskStatus.RUNNING, lease_expires_at__lt=now)
    ids = [
        str(task_id)
        for task_id in AgentTask.objects.filter(stale).order_by("created_at").values_list("id", flat=True)[:limit]
    ]
    if ids:
        AgentTask.objects.filter(pk__in=ids).update(requeued_at=now, enqueue_failed_at=None)
    for task_id in ids:
        dispatch_now(run_agent_task, task_id)
    return len(ids)
