"""Agent registry and agent tasks."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AgentCategory(models.TextChoices):
    COMMERCE = "commerce", "Commerce"
    CREATIVE = "creative", "Creative"
    MARKETING = "marketing", "Marketing"
    SUPPORT = "support", "Support"
    OPERATIONS = "operations", "Operations"
    ANALYTICS = "analytics", "Analytics"


class AgentStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    RUNNING = "running", "Running"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


class Agent(models.Model):
    """One AI agent of the catalog; data, editable in the admin.

    ``slug`` is the public id (``commerce-001``). ``tools`` names entries of the tool
    registry the agent may call; ``system_prompt`` and the preferred provider/model
    drive its LLM work. Statistics are never stored here: they are the totals of
    the agent's real tasks (:class:`AgentTaskTotals`).
    """

    slug = models.SlugField(max_length=64, unique=True)
    type = models.CharField(max_length=64)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=16, choices=AgentCategory.choices, db_index=True)
    status = models.CharField(max_length=16, choices=AgentStatus.choices, default=AgentStatus.IDLE, db_index=True)
    capabilities = models.JSONField(default=list, blank=True)
    tools = models.JSONField(default=list, blank=True)
    ml_models = models.JSONField(default=list, blank=True)
    system_prompt = models.TextField(blank=True)
    preferred_provider = models.CharField(max_length=32, blank=True)
    preferred_model = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.slug} ({self.name})"


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class AgentTask(models.Model):
    """One requested run of an agent action (a registered tool, or an LLM prompt).

    Lifecycle (agents_app.services.tasks): ``pending`` -> ``running`` (claimed by a
    worker with a conditional UPDATE, holding a lease renewed at each checkpoint) ->
    ``completed`` | ``failed`` | ``cancelled`` (again a conditional UPDATE keyed on the
    attempt that holds the lease, so a task is finished at most once). A running task
    whose lease expired (its worker died) may be claimed again; ``attempts`` counts
    claims. ``idempotency_key`` is unique per requesting user; ``request_hash`` is the
    digest of the request body it was created from, to refuse a reused key with a
    different body.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="tasks")
    action = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict, blank=True)
    use_round_table = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=128, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # NULL (not ""): the per-user unique constraint must ignore tasks without a key.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="agent_tasks"
    )
    # The API key (its prefix) that requested the task when no user did: it owns the task.
    requested_by_key = models.CharField(max_length=16, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When a sweep last queued this task again because its message may be lost
    # (services.execution.tasks_requeue_stale): at most once per sweep age.
    requeued_at = models.DateTimeField(null=True, blank=True)
    # Set when handing the task to the queue failed (broker unreachable): the next sweep
    # queues it whatever its age, and clears this.
    enqueue_failed_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="agent_task_idempotency_per_user",
            ),
            models.UniqueConstraint(
                fields=["requested_by_key", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False) & ~Q(requested_by_key=""),
                name="agent_task_idempotency_per_key",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="agent_task_progress_0_100"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="agent_task_cost_not_negative"),
        ]
        indexes = [
            models.Index(fields=["agent", "status"], name="agent_task_agent_status"),
            models.Index(fields=["status", "created_at"], name="agent_task_status_created"),
            models.Index(fields=["requested_by", "created_at"], name="agent_task_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.action} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class AgentTaskTotals(models.Model):
    """Totals over an agent's task rows, kept by the database itself.

    Triggers on AgentTask (migration 0008, PostgreSQL and SQLite) add a row's share when
    it is inserted, updated or deleted, in the writing transaction, whoever writes it
    (services, the admin, bulk inserts, raw SQL, purges). So the totals always equal an
    aggregate over the current rows, and the agents list reads 54 rows instead of
    aggregating the whole task history on every change (PERF P1/R6, bench/README.md:
    29 ms at 56,000 tasks, re-run after every claim and finish under load).

    ``completed``/``failed``: rows in those states; ``completed_duration_ms`` and
    ``completed_timed``: sum and number of completed rows with a duration (their mean is
    the agent's latency); ``cost``: every row's cost. Running tasks are counted live
    (few rows, indexed).
    """

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, primary_key=True, related_name="task_totals")
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    completed_duration_ms = models.BigIntegerField(default=0)
    completed_timed = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal("0"))

    class Meta:
        verbose_name_plural = "agent task totals"

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.completed} completed, {self.failed} failed"


class WorkflowStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class StepStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for its dependencies"
    RUNNING = "running", "Running (its task is queued or running)"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (a dependency failed)"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STEP_STATUSES = (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED)


class FailurePolicy(models.TextChoices):
    SKIP = "skip", "Skip the failed step's dependents; other branches go on"
    FAIL = "fail", "Fail the failed step's dependents and stop the run"


class WorkflowRun(models.Model):
    """One run of a multi-agent workflow: a DAG of steps, each an agent action run as
    an ``AgentTask`` (agents_app.services.workflows).

    ``definition`` is the validated graph as requested (template expanded); steps are
    rows of ``WorkflowStep``. The run is advanced under a row lock on this row whenever
    one of its tasks finishes, so concurrent workers never launch a step twice.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64, db_index=True)  # template name or "custom"
    parameters = models.JSONField(default=dict, blank=True)
    definition = models.JSONField(default=dict, blank=True)
    parallel = models.BooleanField(default=True)
    failure_policy = models.CharField(max_length=8, choices=FailurePolicy.choices, default=FailurePolicy.SKIP)
    status = models.CharField(max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.RUNNING)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="workflow_runs"
    )
    requested_by_key = models.CharField(max_length=16, blank=True, db_index=True)  # an API key's prefix
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "created_at"], name="workflow_run_user_created")]

    def __str__(self) -> str:
        return f"{self.name} {self.id} ({self.status})"


class WorkflowStep(models.Model):
    """One node of a workflow run. ``parameters`` may hold ``{"$ref": "steps.<id>.result.<path>"}``
    values, resolved from earlier steps' results when the step starts
    (``resolved_parameters``). ``error``/``error_code`` are the step's own failure (its
    task's error, or why it could not start)."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    step_id = models.SlugField(max_length=64)
    position = models.PositiveSmallIntegerField()
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="workflow_steps")
    action = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict, blank=True)
    resolved_parameters = models.JSONField(null=True, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    on_failure = models.CharField(max_length=8, choices=FailurePolicy.choices, default=FailurePolicy.SKIP)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.WAITING)
    task = models.OneToOneField(
        AgentTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="workflow_step"
    )
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "step_id"], name="workflow_step_id_per_run")]

    def __str__(self) -> str:
        return f"{self.step_id} of {self.run_id} ({self.status})"
