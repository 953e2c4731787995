"""Operator console for agents and tasks: actions call services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.services.agents import agent_start, agent_stop
from agents_app.services.tasks import task_cancel, task_create, task_retry
from devskyy.core.errors import DomainError


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin[Agent]):
    list_display = ("slug", "name", "category", "status", "enabled", "preferred_provider", "updated_at")
    list_filter = ("category", "status", "enabled", "preferred_provider")
    search_fields = ("slug", "name", "description", "type")
    readonly_fields = ("created_at", "updated_at")
    actions = ("start_agents", "stop_agents", "run_first_tool")

    @admin.action(description="Start selected agents")
    def start_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            agent_start(slug=agent.slug)
        self.message_user(request, f"Started {queryset.count()} agent(s).")

    @admin.action(description="Stop selected agents")
    def stop_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            agent_stop(slug=agent.slug)
        self.message_user(request, f"Stopped {queryset.count()} agent(s).")

    @admin.action(description="Run each agent's first tool that needs no parameters")
    def run_first_tool(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            for tool in agent.tools:
                try:
                    created = task_create(agent_slug=agent.slug, action=tool, parameters={}, user=request.user)
                except DomainError:
                    continue  # needs parameters or an unconfigured integration: try the next tool
                self.message_user(request, f"{agent.slug}: queued {tool} as task {created.task.id}.")
                break
            else:
                self.message_user(request, f"{agent.slug}: no tool runs without parameters.", messages.WARNING)


@admin.register(AgentTask)
class AgentTaskAdmin(admin.ModelAdmin[AgentTask]):
    list_display = ("id", "agent", "action", "status", "progress", "attempts", "requested_by", "created_at")
    list_filter = ("status", "agent__category", "action")
    search_fields = ("id", "agent__slug", "action", "error", "idempotency_key")
    list_select_related = ("agent", "requested_by")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in AgentTask._meta.fields]
    actions = ("cancel_tasks", "retry_tasks")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are created through services (API or the agent action)

    @admin.action(description="Cancel selected tasks")
    def cancel_tasks(self, request: HttpRequest, queryset: QuerySet[AgentTask]) -> None:
        done = 0
        for task in queryset.filter(status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]):
            task_cancel(task=task)
            done += 1
        self.message_user(request, f"Cancel requested for {done} task(s).")

    @admin.action(description="Retry selected failed/cancelled tasks")
    def retry_tasks(self, request: HttpRequest, queryset: QuerySet[AgentTask]) -> None:
        for task in queryset.select_related("agent"):
            try:
                retry = task_retry(task=task, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{task.id}: {exc.message}", messages.WARNING)
                continue
            self.message_user(request, f"{task.id}: retried as {retry.id}.")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.readonly_fields)


# --- LLM gateway, Round Tables and workflows (issue 5) ---------------------------------
# Only new classes below: the Agent/AgentTask admins above are maintained separately.

from django import forms  # noqa: E402
from django.db.models import Count  # noqa: E402

from agents_app.llm.budget import agent_budget_set, daily_budget_limit_set  # noqa: E402
from agents_app.llm.exceptions import ProviderError  # noqa: E402
from agents_app.llm.gateway import probe_provider  # noqa: E402
from agents_app.llm.models import (  # noqa: E402
    AgentBudget,
    DailyBudget,
    ProviderCredential,
    RoundTable,
    RoundTableEntry,
    SpendLedgerEntry,
)
from agents_app.llm.services import provider_credential_save  # noqa: E402
from agents_app.models import WorkflowRun, WorkflowStatus, WorkflowStep  # noqa: E402
from agents_app.services.workflows import workflow_cancel  # noqa: E402
from devskyy.core.audit import audit_record  # noqa: E402


class LLMCredentialForm(forms.ModelForm[ProviderCredential]):
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, never shown. Leave empty to keep the stored key.",
    )
    base_url = forms.URLField(required=False, assume_scheme="https", help_text="Empty: the provider's public endpoint.")

    class Meta:
        model = ProviderCredential
        fields = ("provider", "base_url", "default_model", "enabled", "priority")


@admin.register(ProviderCredential)
class LLMProviderCredentialAdmin(admin.ModelAdmin[ProviderCredential]):
    """LLM provider keys: the key is write-only; saving goes through the service (encrypts)."""

    form = LLMCredentialForm
    list_display = ("provider", "enabled", "priority", "default_model", "base_url", "has_key", "updated_at")
    list_filter = ("enabled", "provider")
    ordering = ("priority", "provider")
    actions = ("check_providers",)

    @admin.display(boolean=True, description="key stored")
    def has_key(self, obj: ProviderCredential) -> bool:
        return bool(obj.api_key_encrypted)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("provider",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ProviderCredential, form: Any, change: bool) -> None:
        new_key = form.cleaned_data.get("api_key") or ""
        # No new key typed: keep the stored one (re-encrypted under the current key).
        key = new_key or (ProviderCredential.objects.get(pk=obj.pk).api_key if change else "")
        saved = provider_credential_save(
            provider=obj.provider,
            api_key=key,
            base_url=obj.base_url,
            default_model=obj.default_model,
            enabled=obj.enabled,
            priority=obj.priority,
        )
        audit_record(
            action="llm.credential.saved",
            actor=request.user,
            target_type="llm_provider",
            target_id=obj.provider,
            details={"key_replaced": bool(new_key), "enabled": obj.enabled},
        )
        obj.pk = saved.pk

    @admin.action(description="Check selected providers now (one small real call each)")
    def check_providers(self, request: HttpRequest, queryset: QuerySet[ProviderCredential]) -> None:
        for credential in queryset:
            try:
                answer = probe_provider(credential.provider)
            except (ProviderError, DomainError) as exc:
                self.message_user(request, f"{credential.provider}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{credential.provider}: ok in {answer.latency_ms} ms ({answer.model}).")


@admin.register(SpendLedgerEntry)
class SpendLedgerEntryAdmin(admin.ModelAdmin[SpendLedgerEntry]):
    """The spend ledger: read-only, filterable; a big table, so no full count."""

    list_display = (
        "created_at",
        "kind",
        "provider",
        "model",
        "outcome",
        "amount",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "agent_slug",
        "purpose",
    )
    list_filter = ("kind", "provider", "outcome", "purpose", "source")
    search_fields = ("agent_slug", "task_id", "model", "campaign_ref")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in SpendLedgerEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DailyBudgetForm(forms.ModelForm[DailyBudget]):
    class Meta:
        model = DailyBudget
        fields = ("limit_usd",)


@admin.register(DailyBudget)
class DailyBudgetAdmin(admin.ModelAdmin[DailyBudget]):
    """One agent's spend for one UTC day; only the limit is editable (audited service)."""

    form = DailyBudgetForm
    list_display = ("day", "agent_slug", "limit_usd", "spent_usd", "reserved_usd", "updated_at")
    list_filter = ("day",)
    search_fields = ("agent_slug",)
    date_hierarchy = "day"
    show_full_result_count = False
    readonly_fields = ("agent_slug", "day", "spent_usd", "reserved_usd", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows appear with an agent's first paid call of the day

    def save_model(self, request: HttpRequest, obj: DailyBudget, form: Any, change: bool) -> None:
        daily_budget_limit_set(budget_id=obj.pk, limit_usd=obj.limit_usd, actor=request.user)


@admin.register(AgentBudget)
class AgentBudgetAdmin(admin.ModelAdmin[AgentBudget]):
    """Per-agent override of the default daily limit; today's budget follows at once."""

    list_display = ("agent_slug", "daily_limit_usd", "updated_at")
    search_fields = ("agent_slug",)

    def save_model(self, request: HttpRequest, obj: AgentBudget, form: Any, change: bool) -> None:
        saved = agent_budget_set(agent_slug=obj.agent_slug, daily_limit_usd=obj.daily_limit_usd)
        audit_record(
            action="llm.budget.override_set",
            actor=request.user,
            target_type="agent_budget",
            target_id=obj.agent_slug,
            details={"daily_limit_usd": str(obj.daily_limit_usd)},
        )
        obj.pk = saved.pk


class RoundTableEntryInline(admin.TabularInline[RoundTableEntry, RoundTable]):
    model = RoundTableEntry
    extra = 0
    can_delete = False
    fields = ("rank", "provider", "model", "status", "score", "latency_ms", "cost_usd", "error", "text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RoundTable)
class RoundTableAdmin(admin.ModelAdmin[RoundTable]):
    list_display = ("created_at", "status", "agent_slug", "winner_provider", "verdict_method", "total_cost_usd")
    list_filter = ("status", "verdict_method", "judge_provider")
    search_fields = ("prompt", "agent_slug", "task_id")
    list_select_related = ("winner",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in RoundTable._meta.fields]
    inlines = (RoundTableEntryInline,)

    @admin.display(description="winner")
    def winner_provider(self, obj: RoundTable) -> str:
        return obj.winner.provider if obj.winner else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Round Tables run as agent tasks (use_round_table)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WorkflowStepInline(admin.TabularInline[WorkflowStep, WorkflowRun]):
    model = WorkflowStep
    extra = 0
    can_delete = False
    fields = ("position", "step_id", "agent", "action", "depends_on", "status", "task", "error_code", "error")
    readonly_fields = fields
    ordering = ("position",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowStep]:
        return super().get_queryset(request).select_related("agent", "task")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin[WorkflowRun]):
    list_display = ("created_at", "name", "status", "step_count", "parallel", "failure_policy", "requested_by")
    list_filter = ("status", "name", "failure_policy")
    search_fields = ("id", "name", "error")
    list_select_related = ("requested_by",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in WorkflowRun._meta.fields]
    inlines = (WorkflowStepInline,)
    actions = ("cancel_runs",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowRun]:
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description="steps")
    def step_count(self, obj: WorkflowRun) -> int:
        return int(getattr(obj, "step_total", 0))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start through the API (templates or a validated custom graph)

    @admin.action(description="Cancel selected running workflows")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        done = 0
        for run in queryset.filter(status=WorkflowStatus.RUNNING):
            workflow_cancel(run=run)
            done += 1
        self.message_user(request, f"Cancelled {done} workflow run(s).")
