"""Multi-agent workflows: a DAG of agent actions, each run as an AgentTask on the queue.

**Create** (``workflow_create``): a template is expanded from its parameters, or a
custom graph is taken from ``parameters.steps``; either way the graph is validated as
a whole (at most WORKFLOW_MAX_STEPS steps, unique ids, known agents, known actions the
agent may use, known dependencies, no cycle, parameters valid against the tool's
schema, every ``$ref`` well formed and pointing at a step the step depends on). Every
problem is reported at once (400 ``invalid_workflow``, ``details.errors``) and nothing
is written. Otherwise a ``WorkflowRun`` and its ``WorkflowStep`` rows are stored (in
topological order) and the run is advanced at once (its first tasks are queued when
the caller's transaction commits).

**References**: a parameter value ``{"$ref": "steps.<id>.result.<path>"}`` is replaced,
when the step starts, by that part of the earlier step's task result (``path``: dot
separated keys, list indexes as numbers; empty for the whole result). A path that is
not there fails the step (``unresolved_ref``).

**Advance** (``workflow_advance``), in one transaction holding a row lock on the run
(``SELECT ... FOR UPDATE``), called after creation and whenever one of its tasks
reaches a final state, from any web or worker process:

1. running steps whose task finished take its outcome;
2. a waiting step with a failed, cancelled or skipped dependency is settled by the
   failed step's policy: ``skip`` -> skipped (other branches go on), ``fail`` -> failed
   with ``dependency_failed`` and the run stops (other waiting steps are cancelled,
   running tasks are asked to cancel);
3. waiting steps whose dependencies all completed start (all at once when
   ``parallel``, one at a time otherwise): references resolved, the action checked
   again (agent running, integration configured, schema), a task created and queued
   after commit. A step that cannot start fails with that reason (e.g.
   ``llm_not_configured``) and step 2 applies to it;
4. nothing left waiting or running -> the run is ``completed`` (every step completed)
   or ``failed``.

Because every advance holds the run's lock and re-reads the tasks' committed states,
two workers finishing two steps at once cannot both miss, or both start, a dependent.
Starting a step is also a conditional UPDATE (``waiting -> running``), so even where
row locks do not exist (SQLite, embedded mode) a step is never started twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from jsonschema import Draft202012Validator

from agents_app.events import publish_workflow_update
from agents_app.exceptions import AgentStoppedError
from agents_app.models import (
    FINAL_STATUSES,
    FINAL_STEP_STATUSES,
    Agent,
    AgentStatus,
    AgentTask,
    FailurePolicy,
    StepStatus,
    TaskStatus,
    WorkflowRun,
    WorkflowStatus,
    WorkflowStep,
)
from agents_app.services.tasks import request_hash, resolve_action, task_cancel
from agents_app.tools.base import registry
from agents_app.workflow_templates import TEMPLATES
from devskyy.core.api_keys import key_owner
from devskyy.core.errors import ConflictError, DomainError

logger = logging.getLogger(__name__)

WORKFLOW_MAX_STEPS = 20
CUSTOM = "custom"
REF_KEY = "$ref"
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_REF = re.compile(r"^steps\.(?P<step>[a-z0-9][a-z0-9_-]{0,63})\.result(?P<path>(?:\.[^.\s]+)*)$")
_STEP_KEYS = {"id", "agent", "action", "parameters", "depends_on", "on_failure"}
_CUSTOM_KEYS = {"steps", "on_failure"}


class WorkflowInvalidError(DomainError):
    code = "invalid_workflow"


class UnknownWorkflowError(DomainError):
    code = "unknown_workflow"


class WorkflowNotCancellableError(ConflictError):
    code = "workflow_not_cancellable"


class UnresolvedReferenceError(DomainError):
    code = "unresolved_ref"


# ---------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {REF_KEY} and isinstance(value[REF_KEY], str)


def find_refs(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every ``$ref`` in ``value`` with the JSON path where it stands."""
    if is_ref(value):
        yield path, value[REF_KEY]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find_refs(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find_refs(item, (*path, index))


def parse_ref(ref: str) -> tuple[str, list[str]] | None:
    """``(step id, path parts)`` or None when ``ref`` is not ``steps.<id>.result[.<path>]``."""
    match = _REF.match(ref)
    if match is None:
        return None
    path = match.group("path")
    return match.group("step"), [part for part in path.split(".") if part] if path else []


def _lookup(result: Any, ref: str, parts: list[str]) -> Any:
    current = result
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise UnresolvedReferenceError(
                f"{ref}: no {part!r} in that step's result.", details={"ref": ref, "missing": part}
            )
    return current


def resolve_refs(value: Any, results: dict[str, Any]) -> Any:
    """``value`` with every ``$ref`` replaced by the referenced result part."""
    if is_ref(value):
        parsed = parse_ref(value[REF_KEY])
        if parsed is None or parsed[0] not in results:
            raise UnresolvedReferenceError(f"{value[REF_KEY]}: not a completed step's result.")
        return _lookup(results[parsed[0]], value[REF_KEY], parsed[1])
    if isinstance(value, dict):
        return {key: resolve_refs(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, results) for item in value]
    return value


# ---------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """A validated graph: steps in topological order, each with its failure policy."""

    steps: list[dict[str, Any]]
    policy: str


def _pointer(parts: tuple[str | int, ...]) -> str:
    return "".join(f"/{p}" for p in parts)


def _under_ref(params: Any, path: tuple[str | int, ...]) -> bool:
    """Is ``path`` inside (or at) a ``$ref`` in ``params``? Such values are checked at run time."""
    current = params
    for part in path:
        if is_ref(current):
            return True
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return False
    return is_ref(current)


def _topological(steps: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(order, ids left in a cycle); Kahn's algorithm, ties in request order."""
    ids = [s["id"] for s in steps]
    deps = {s["id"]: [d for d in s["depends_on"] if d in ids] for s in steps}
    indegree = {i: len(set(deps[i])) for i in ids}
    order: list[str] = []
    ready = [i for i in ids if indegree[i] == 0]
    while ready:
        current = ready.pop(0)
        order.append(current)
        for other in ids:
            if current in deps[other]:
                indegree[other] -= 1
                if indegree[other] == 0:
                    ready.append(other)
    return order, [i for i in ids if i not in order]


def _ancestors(step_id: str, deps: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(deps.get(step_id, []))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(deps.get(current, []))
    return seen


def validate_graph(raw_steps: Any, *, policy: str, base: str = "/parameters/steps") -> Definition:
    """Check a whole graph; raise WorkflowInvalidError listing every problem."""
    errors: list[dict[str, str]] = []

    def fail(path: str, message: str) -> None:
        errors.append({"path": path, "message": message})

    if not isinstance(raw_steps, list) or not raw_steps:
        fail(base, "steps must be a non-empty list of step objects")
        raise WorkflowInvalidError("The workflow graph is invalid.", details={"errors": errors})
    if len(raw_steps) > WORKFLOW_MAX_STEPS:
        fail(base, f"at most {WORKFLOW_MAX_STEPS} steps, got {len(raw_steps)}")
        raise WorkflowInvalidError(f"A workflow has at most {WORKFLOW_MAX_STEPS} steps.", details={"errors": errors})
    tools = registry()
    slugs = {str(s.get("agent")) for s in raw_steps if isinstance(s, dict)}
    agents = {a.slug: a for a in Agent.objects.filter(slug__in=slugs)}
    steps: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for index, raw in enumerate(raw_steps):
        at = f"{base}/{index}"
        if not isinstance(raw, dict):
            fail(at, "a step is an object")
            continue
        for key in sorted(set(raw) - _STEP_KEYS):
            fail(f"{at}/{key}", "unknown field")
        step_id = raw.get("id")
        if not isinstance(step_id, str) or not _STEP_ID.match(step_id):
            fail(f"{at}/id", "id: 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit")
            continue
        if step_id in seen_ids:
            fail(f"{at}/id", f"duplicate step id {step_id!r}")
            continue
        seen_ids.add(step_id)
        depends = raw.get("depends_on", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            fail(f"{at}/depends_on", "depends_on is a list of step ids")
            depends = []
        params = raw.get("parameters", {})
        if not isinstance(params, dict):
            fail(f"{at}/parameters", "parameters is an object")
            params = {}
        on_failure = raw.get("on_failure", policy)
        if on_failure not in FailurePolicy.values:
            fail(f"{at}/on_failure", f"on_failure is one of {', '.join(FailurePolicy.values)}")
            on_failure = policy
        steps.append(
            {
                "id": step_id,
                "agent": raw.get("agent"),
                "action": raw.get("action"),
                "parameters": params,
                "depends_on": list(dict.fromkeys(depends)),
                "on_failure": on_failure,
                "_at": at,
            }
        )
    ids = {s["id"] for s in steps}
    deps = {s["id"]: [d for d in s["depends_on"] if d in ids] for s in steps}
    for step in steps:
        at = step["_at"]
        agent = agents.get(step["agent"]) if isinstance(step["agent"], str) else None
        if agent is None:
            fail(f"{at}/agent", f"unknown agent {step['agent']!r}")
        action = step["action"]
        tool = tools.get(action) if isinstance(action, str) else None
        if tool is None:
            fail(f"{at}/action", f"unknown action {action!r}")
        elif agent is not None and action not in agent.tools:
            fail(f"{at}/action", f"agent {agent.slug!r} may not use {action!r}; allowed: {', '.join(agent.tools)}")
        for dep in step["depends_on"]:
            if dep == step["id"]:
                fail(f"{at}/depends_on", "a step cannot depend on itself")
            elif dep not in ids:
                fail(f"{at}/depends_on", f"unknown step {dep!r}")
        ancestors = _ancestors(step["id"], deps)
        for path, ref in find_refs(step["parameters"]):
            parsed = parse_ref(ref)
            where = f"{at}/parameters{_pointer(path)}"
            if parsed is None:
                fail(where, f"bad $ref {ref!r}: expected 'steps.<id>.result' or 'steps.<id>.result.<path>'")
            elif parsed[0] not in ids:
                fail(where, f"bad $ref {ref!r}: no step {parsed[0]!r}")
            elif parsed[0] not in ancestors:
                fail(where, f"bad $ref {ref!r}: step {parsed[0]!r} is not a dependency of {step['id']!r}")
        if tool is not None:
            for error in Draft202012Validator(tool.input_schema).iter_errors(step["parameters"]):
                if not _under_ref(step["parameters"], tuple(error.absolute_path)):
                    fail(f"{at}/parameters{_pointer(tuple(error.absolute_path))}", error.message)
    order, cyclic = _topological(steps)
    if cyclic:
        fail(base, f"the steps form a cycle: {', '.join(sorted(cyclic))}")
    if errors:
        raise WorkflowInvalidError(
            f"The workflow graph is invalid: {errors[0]['path']}: {errors[0]['message']}",
            details={"errors": errors},
        )
    by_id = {s["id"]: s for s in steps}
    return Definition(
        steps=[{k: v for k, v in by_id[i].items() if k != "_at"} for i in order],
        policy=policy,
    )


def _schema_errors(schema: dict[str, Any], value: Any, base: str) -> list[dict[str, str]]:
    return [
        {"path": base + _pointer(tuple(e.absolute_path)), "message": e.message}
        for e in sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    ]


_CUSTOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"steps": {"type": "array"}, "on_failure": {"enum": FailurePolicy.values}},
    "required": ["steps"],
    "additionalProperties": False,
}


def workflow_definition(*, name: str, parameters: Any, agents: dict[str, str] | None = None) -> Definition:
    """The validated graph for a request: a template expanded, or a custom graph."""
    if name != CUSTOM and name not in TEMPLATES:
        raise UnknownWorkflowError(
            f"No workflow template {name!r}.",
            details={"workflow_name": name, "templates": [*TEMPLATES, CUSTOM]},
        )
    if name == CUSTOM:
        errors = _schema_errors(_CUSTOM_SCHEMA, parameters, "/parameters")
        if errors:
            raise WorkflowInvalidError("Custom workflow parameters are invalid.", details={"errors": errors})
        raw_steps = parameters["steps"]
        policy = parameters.get("on_failure", FailurePolicy.SKIP)
    else:
        template = TEMPLATES[name]
        errors = _schema_errors(template.schema, parameters, "/parameters")
        if errors:
            raise WorkflowInvalidError(f"Parameters for {name!r} are invalid.", details={"errors": errors})
        raw_steps, policy = template.build(parameters), template.policy
    if agents:
        ids = {s.get("id") for s in raw_steps if isinstance(s, dict)}
        unknown = sorted(set(agents) - ids)
        if unknown:
            raise WorkflowInvalidError(
                "agents names steps this workflow does not have.",
                details={"errors": [{"path": f"/agents/{step}", "message": "unknown step"} for step in unknown]},
            )
        raw_steps = [
            {**s, "agent": agents[s["id"]]} if isinstance(s, dict) and s.get("id") in agents else s for s in raw_steps
        ]
    base = "/parameters/steps" if name == CUSTOM else "/steps"
    return validate_graph(raw_steps, policy=str(policy), base=base)


# ---------------------------------------------------------------------------------
# Create, cancel
# ---------------------------------------------------------------------------------


def _user_id(user: AbstractBaseUser | AnonymousUser | None) -> int | None:
    # An API key principal has no user row (pk None): the run is owned by its key instead.
    return int(user.pk) if user is not None and user.is_authenticated and user.pk is not None else None


def workflow_create(
    *,
    name: str,
    parameters: dict[str, Any],
    user: AbstractBaseUser | AnonymousUser | None,
    agents: dict[str, str] | None = None,
    parallel: bool = True,
) -> WorkflowRun:
    """Validate and store a run with its steps; it starts advancing after commit."""
    definition = workflow_definition(name=name, parameters=parameters, agents=agents)
    slugs = {s["agent"] for s in definition.steps}
    agent_ids = dict(Agent.objects.filter(slug__in=slugs).values_list("slug", "id"))
    with transaction.atomic():
        run = WorkflowRun.objects.create(
            name=name,
            parameters=parameters,
            definition={"steps": definition.steps, "on_failure": definition.policy},
            parallel=parallel,
            failure_policy=definition.policy,
            requested_by_id=_user_id(user),
            requested_by_key=key_owner(user),
        )
        WorkflowStep.objects.bulk_create(
            [
                WorkflowStep(
                    run=run,
                    step_id=s["id"],
                    position=position,
                    agent_id=agent_ids[s["agent"]],
                    action=s["action"],
                    parameters=s["parameters"],
                    depends_on=s["depends_on"],
                    on_failure=s["on_failure"],
                )
                for position, s in enumerate(definition.steps)
            ]
        )
        _announce(run, counts={StepStatus.WAITING: len(definition.steps)})
    # Start the roots now (their tasks are queued once the caller's transaction commits).
    workflow_advance(run_id=str(run.id))
    return run


def workflow_cancel(*, run: WorkflowRun) -> WorkflowRun:
    """Cancel a running workflow: waiting steps never start, running tasks are asked to
    stop (a pending one at once). A finished run raises WorkflowNotCancellableError."""
    with transaction.atomic():
        locked = WorkflowRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != WorkflowStatus.RUNNING:
            raise WorkflowNotCancellableError(
                f"Workflow is already {locked.status}.",
                details={"workflow_id": str(locked.id), "status": locked.status},
            )
        now = timezone.now()
        steps = list(locked.steps.select_related("task", "agent"))
        for step in steps:
            if step.status == StepStatus.WAITING:
                _set(step, StepStatus.CANCELLED, error="workflow cancelled", code="cancelled", now=now)
            elif step.status == StepStatus.RUNNING and step.task is not None and not step.task.is_final:
                task_cancel(task=step.task)
        locked.status = WorkflowStatus.CANCELLED
        locked.finished_at = now
        locked.error = "cancelled on request"
        locked.save(update_fields=["status", "finished_at", "error"])
        _announce(locked, counts=_counts(steps))
        run_id = str(locked.id)
        transaction.on_commit(lambda: workflow_advance(run_id=run_id))
    return locked


# ---------------------------------------------------------------------------------
# Advance
# ---------------------------------------------------------------------------------


def workflow_task_finished(*, task_id: str) -> None:
    """Hook of the task lifecycle: a task reached a final state; advance its run, if any."""
    run_id = WorkflowStep.objects.filter(task__pk=task_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return
    try:
        workflow_advance(run_id=str(run_id))
    except Exception:  # the task's own outcome is committed; log and let a later advance catch up
        logger.exception("workflow %s: advancing after task %s failed", run_id, task_id)


def workflow_advance(*, run_id: str) -> None:
    """Bring the run up to date with its tasks and start what can start (module docstring)."""
    with transaction.atomic():
        run = WorkflowRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        steps = list(run.steps.select_related("task", "agent").order_by("position"))
        now = timezone.now()
        _sync_from_tasks(run, steps, now)
        if run.status == WorkflowStatus.RUNNING:
            for _ in range(len(steps) + 1):
                _settle_dependents(run, steps, now)
                if run.status != WorkflowStatus.RUNNING or not _start_ready(run, steps, now):
                    break
            _close_if_done(run, steps, now)


def _counts(steps: list[WorkflowStep]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return counts


def _announce(run: WorkflowRun, *, counts: dict[str, int], step: WorkflowStep | None = None) -> None:
    payload = None
    if step is not None:
        payload = {"id": step.step_id, "status": step.status, "task_id": str(step.task_id) if step.task_id else None}
        if step.error_code:
            payload["error_code"] = step.error_code
            payload["error"] = step.error
    publish_workflow_update(
        workflow_id=str(run.id),
        workflow_name=run.name,
        status=run.status,
        owner_id=run.requested_by_id,
        counts=counts,
        step=payload,
    )


def _set(step: WorkflowStep, status: str, *, error: str = "", code: str = "", now: Any = None) -> None:
    step.status = status
    step.error = error[:4000]
    step.error_code = code[:64]
    step.finished_at = now or timezone.now()
    step.save(update_fields=["status", "error", "error_code", "finished_at"])


_TASK_TO_STEP = {
    TaskStatus.COMPLETED: StepStatus.COMPLETED,
    TaskStatus.FAILED: StepStatus.FAILED,
    TaskStatus.CANCELLED: StepStatus.CANCELLED,
}


def _sync_from_tasks(run: WorkflowRun, steps: list[WorkflowStep], now: Any) -> None:
    for step in steps:
        task = step.task
        if step.status != StepStatus.RUNNING or task is None or task.status not in FINAL_STATUSES:
            continue
        code = task.error_code or ("cancelled" if task.status == TaskStatus.CANCELLED else "")
        _set(step, _TASK_TO_STEP[TaskStatus(task.status)], error=task.error, code=code, now=task.finished_at or now)
        _announce(run, counts=_counts(steps), step=step)


def _settle_dependents(run: WorkflowRun, steps: list[WorkflowStep], now: Any) -> None:
    """Apply failure policies to waiting dependents (position order = topological, so
    one pass settles whole chains); stop the run when a ``fail`` step failed."""
    by_id = {s.step_id: s for s in steps}
    for step in steps:
        if step.status != StepStatus.WAITING:
            continue
        for dep_id in step.depends_on:
            dep = by_id[dep_id]
            if dep.status not in (StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED):
                continue
            if dep.status == StepStatus.SKIPPED:
                _set(step, StepStatus.SKIPPED, error=f"dependency {dep_id!r} was skipped", code="dependency_skipped")
            elif dep.error_code == "dependency_failed" or dep.on_failure == FailurePolicy.FAIL:
                _set(step, StepStatus.FAILED, error=f"dependency {dep_id!r} failed", code="dependency_failed")
            else:
                _set(step, StepStatus.SKIPPED, error=f"dependency {dep_id!r} failed", code="dependency_failed")
            _announce(run, counts=_counts(steps), step=step)
            break
    stopper = next(
        (
            s
            for s in steps
            if s.status in (StepStatus.FAILED, StepStatus.CANCELLED)
            and s.on_failure == FailurePolicy.FAIL
            and s.error_code != "dependency_failed"
        ),
        None,
    )
    if stopper is None:
        return
    for step in steps:
        if step.status == StepStatus.WAITING:
            _set(step, StepStatus.CANCELLED, error=f"run stopped: step {stopper.step_id!r} failed", code="run_stopped")
            _announce(run, counts=_counts(steps), step=step)
        elif step.status == StepStatus.RUNNING and step.task is not None and not step.task.is_final:
            task_cancel(task=step.task)
    run.status = WorkflowStatus.FAILED
    run.error = f"step {stopper.step_id!r} failed ({stopper.error_code or stopper.status}): {stopper.error}"[:4000]
    run.finished_at = now
    run.save(update_fields=["status", "error", "finished_at"])
    _announce(run, counts=_counts(steps))


def _start_ready(run: WorkflowRun, steps: list[WorkflowStep], now: Any) -> bool:
    """Start every ready step (one at a time unless ``parallel``). Returns True when a
    step failed to start, so failure policies must be applied again."""
    by_id = {s.step_id: s for s in steps}
    running = sum(1 for s in steps if s.status == StepStatus.RUNNING)
    failed_to_start = False
    for step in steps:
        if step.status != StepStatus.WAITING:
            continue
        if not all(by_id[d].status == StepStatus.COMPLETED for d in step.depends_on):
            continue
        if not run.parallel and running:
            break
        if _start(run, step, by_id, now):
            running += 1
        else:
            failed_to_start = True
            if not run.parallel:
                break
    return failed_to_start


def _start(run: WorkflowRun, step: WorkflowStep, by_id: dict[str, WorkflowStep], now: Any) -> bool:
    from agents_app.services.tasks import queue_task

    claimed = WorkflowStep.objects.filter(pk=step.pk, status=StepStatus.WAITING).update(
        status=StepStatus.RUNNING, started_at=now
    )
    if not claimed:  # another process started it (no row locks on this database)
        step.refresh_from_db()
        return True
    step.status, step.started_at = StepStatus.RUNNING, now
    results = {i: s.task.result for i, s in by_id.items() if s.status == StepStatus.COMPLETED and s.task is not None}
    try:
        params = resolve_refs(step.parameters, results)
        agent = Agent.objects.get(pk=step.agent_id)
        if not agent.enabled or agent.status == AgentStatus.DISABLED:
            raise AgentStoppedError(f"Agent {agent.slug!r} is stopped.", details={"agent_id": agent.slug})
        resolve_action(agent, step.action, params, use_round_table=False)
    except DomainError as exc:
        _set(step, StepStatus.FAILED, error=exc.message, code=exc.code, now=now)
        _announce(run, counts=_counts(list(by_id.values())), step=step)
        return False
    task = AgentTask.objects.create(
        agent=agent,
        action=step.action,
        parameters=params,
        requested_by_id=run.requested_by_id,
        requested_by_key=run.requested_by_key,
        request_hash=request_hash(agent_slug=agent.slug, action=step.action, parameters=params, use_round_table=False),
    )
    step.task = task
    step.resolved_parameters = params
    step.save(update_fields=["task", "resolved_parameters"])
    queue_task(task, agent.slug)
    _announce(run, counts=_counts(list(by_id.values())), step=step)
    return True


def _close_if_done(run: WorkflowRun, steps: list[WorkflowStep], now: Any) -> None:
    if run.status != WorkflowStatus.RUNNING or any(s.status not in FINAL_STEP_STATUSES for s in steps):
        return
    if all(s.status == StepStatus.COMPLETED for s in steps):
        run.status = WorkflowStatus.COMPLETED
    else:
        run.status = WorkflowStatus.FAILED
        failed = [s.step_id for s in steps if s.status == StepStatus.FAILED and s.error_code != "dependency_failed"]
        run.error = f"failed steps: {', '.join(failed) or 'none'}; see each step"
    run.finished_at = now
    run.save(update_fields=["status", "error", "finished_at"])
    _announce(run, counts=_counts(steps))


# ---------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------


def visible_runs(user: AbstractBaseUser | AnonymousUser) -> QuerySet[WorkflowRun]:
    """Runs ``user`` may see: their own; staff see all."""
    qs = WorkflowRun.objects.all()
    if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return qs
    key = key_owner(user)
    if key:
        return qs.filter(requested_by_key=key)
    return qs.filter(requested_by_id=user.pk) if user.pk is not None else qs.none()


def workflow_detail(*, user: AbstractBaseUser | AnonymousUser, run_id: str) -> WorkflowRun:
    """A visible run with its steps, their agents and tasks (two queries)."""
    from django.db.models import Prefetch

    from agents_app.exceptions import WorkflowNotFoundError

    run = (
        visible_runs(user)
        .prefetch_related(
            Prefetch("steps", queryset=WorkflowStep.objects.select_related("agent", "task").order_by("position"))
        )
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise WorkflowNotFoundError("No such workflow run.", details={"workflow_id": run_id})
    return run
