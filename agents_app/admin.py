"""Operator console for agents and tasks: actions call services."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from agents_app.agent_list import agents_list_changed
from agents_app.exceptions import ToolInputInvalidError
from agents_app.models import Agent, AgentTask, TaskStatus
from agents_app.selectors import agent_effective_status, agent_stats, agents_with_stats
from agents_app.services.agents import agent_start, agent_stop
from agents_app.services.tasks import task_cancel, task_create, task_retry
from agents_app.tools.base import registry, validate_input
from devskyy.core.admin_display import ReadOnlyAdminMixin, pretty_json
from devskyy.core.errors import DomainError

RECENT_TASKS_SHOWN = 10


class RunToolForm(forms.Form):
    """Choose one of the agent's tools and give its parameters as a JSON object.

    The parameters are checked against the tool's JSON schema here, so mistakes come
    back as form errors; ``task_create`` checks them again with everything else.
    """

    tool = forms.ChoiceField()
    parameters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80, "spellcheck": "false"}),
        initial="{}",
        required=False,
        help_text='A JSON object matching the tool\'s input schema, e.g. {"threshold": 5}.',
    )

    def __init__(self, *args: Any, agent: Agent, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tools = registry()
        self.agent = agent
        self.tools = {name: tools[name] for name in agent.tools if name in tools}
        cast(forms.ChoiceField, self.fields["tool"]).choices = [
            (name, f"{name} — {tool.description}") for name, tool in self.tools.items()
        ]

    def clean_parameters(self) -> dict[str, Any]:
        raw = (self.cleaned_data.get("parameters") or "").strip() or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
        if not isinstance(value, dict):
            raise ValidationError('Parameters must be a JSON object, e.g. {"threshold": 5}.')
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name, params = cleaned.get("tool"), cleaned.get("parameters")
        if name in self.tools and params is not None:
            try:
                validate_input(self.tools[name], params)
            except ToolInputInvalidError as exc:
                for error in exc.details["errors"]:
                    self.add_error("parameters", f"{error['path']}: {error['message']}")
        return cleaned


class AgentForm(forms.ModelForm[Agent]):
    """Catalog data is editable; ``tools`` must name registered tools (a task could not run otherwise)."""

    class Meta:
        model = Agent
        fields = (
            "slug",
            "type",
            "name",
            "description",
            "category",
            "status",
            "enabled",
            "capabilities",
            "tools",
            "ml_models",
            "system_prompt",
            "preferred_provider",
            "preferred_model",
        )

    def clean_tools(self) -> list[str]:
        tools = self.cleaned_data.get("tools")
        if not isinstance(tools, list) or not all(isinstance(name, str) for name in tools):
            raise ValidationError('Tools are a JSON list of tool names, e.g. ["low_stock_report"].')
        unknown = sorted(set(tools) - set(registry()))
        if unknown:
            raise ValidationError(f"Not registered tool(s): {', '.join(unknown)}.")
        return tools


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin[Agent]):
    form = AgentForm
    list_display = (
        "slug",
        "name",
        "category",
        "live_status",
        "enabled",
        "tasks_completed",
        "tasks_failed",
        "success_rate",
        "avg_latency_ms",
        "total_cost_usd",
    )
    list_filter = ("category", "status", "enabled", "preferred_provider")
    search_fields = ("slug", "name", "description", "type")
    readonly_fields = ("created_at", "updated_at", "stats_summary", "recent_tasks")
    fieldsets = (
        (None, {"fields": ("slug", "type", "name", "description", "category", "status", "enabled")}),
        ("Work", {"fields": ("capabilities", "tools", "ml_models")}),
        ("LLM", {"fields": ("system_prompt", "preferred_provider", "preferred_model")}),
        ("Activity (computed from tasks)", {"fields": ("stats_summary", "recent_tasks", "created_at", "updated_at")}),
    )
    actions = ("start_agents", "stop_agents", "run_tool")

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # Running state changes go through the Enable/Disable actions (services that
        # also broadcast agent_status_update), never a raw field edit.
        return (*self.readonly_fields, "slug", "status", "enabled")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        # Stats come from one aggregate query (selectors.agents_with_stats), never per row.
        return agents_with_stats()

    @admin.display(description="status")
    def live_status(self, obj: Agent) -> str:
        return agent_effective_status(obj)

    @admin.display(description="done", ordering="stat_completed")
    def tasks_completed(self, obj: Agent) -> int:
        return int(obj.stat_completed)  # type: ignore[attr-defined]

    @admin.display(description="failed", ordering="stat_failed")
    def tasks_failed(self, obj: Agent) -> int:
        return int(obj.stat_failed)  # type: ignore[attr-defined]

    @admin.display(description="success %")
    def success_rate(self, obj: Agent) -> str:
        rate = agent_stats(obj)["successRate"]
        return "-" if rate is None else f"{rate}"

    @admin.display(description="avg ms", ordering="stat_avg_ms")
    def avg_latency_ms(self, obj: Agent) -> str:
        avg = agent_stats(obj)["avgLatencyMs"]
        return "-" if avg is None else f"{avg:.0f}"

    @admin.display(description="cost USD", ordering="stat_cost")
    def total_cost_usd(self, obj: Agent) -> str:
        return str(agent_stats(obj)["totalCostUsd"])

    @admin.display(description="stats")
    def stats_summary(self, obj: Agent) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "-")
        return pretty_json(agent_stats(obj))

    @admin.display(description=f"last {RECENT_TASKS_SHOWN} tasks")
    def recent_tasks(self, obj: Agent) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "-")
        rows = list(obj.tasks.order_by("-created_at", "-id")[:RECENT_TASKS_SHOWN])
        if not rows:
            return format_html("{}", "no tasks yet")
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:agents_app_agenttask_change", args=[task.pk]),
                    str(task.pk)[:8],
                    task.action,
                    task.status,
                    task.progress,
                    task.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "-" if task.duration_ms is None else f"{task.duration_ms} ms",
                )
                for task in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>task</th><th>action</th><th>status</th><th>progress</th>"
            "<th>created (UTC)</th><th>duration</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    # Edits here change what GET /api/v1/agents shows: re-render it everywhere.
    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        agents_list_changed()

    def delete_model(self, request: HttpRequest, obj: Agent) -> None:
        super().delete_model(request, obj)
        agents_list_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        super().delete_queryset(request, queryset)
        agents_list_changed()

    @admin.action(description="Enable (start) selected agents")
    def start_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        slugs = list(queryset.values_list("slug", flat=True))
        for slug in slugs:
            agent_start(slug=slug)
        self.message_user(request, f"Started {len(slugs)} agent(s).")

    @admin.action(description="Disable (stop) selected agents")
    def stop_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        slugs = list(queryset.values_list("slug", flat=True))
        for slug in slugs:
            agent_stop(slug=slug)
        self.message_user(request, f"Stopped {len(slugs)} agent(s).")

    @admin.action(description="Run a tool as the selected agent…")
    def run_tool(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        agents = list(queryset.order_by()[:2])
        if len(agents) != 1:
            self.message_user(request, "Select exactly one agent to run a tool.", messages.ERROR)
            return None
        agent = agents[0]
        if "apply" in request.POST:
            form = RunToolForm(request.POST, agent=agent)
            if form.is_valid():
                try:
                    created = task_create(
                        agent_slug=agent.slug,
                        action=form.cleaned_data["tool"],
                        parameters=form.cleaned_data["parameters"],
                        user=request.user,
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    task = created.task
                    url = reverse("admin:agents_app_agenttask_change", args=[task.pk])
                    self.message_user(
                        request,
                        format_html(
                            '{}: queued {} as task <a href="{}" data-task-link="{}">{}</a>.',
                            agent.slug,
                            task.action,
                            url,
                            task.pk,
                            task.pk,
                        ),
                    )
                    return None
        else:
            form = RunToolForm(agent=agent)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Run a tool as {agent.slug}",
            "opts": self.model._meta,
            "agent": agent,
            "form": form,
            "schemas": [(name, json.dumps(tool.input_schema, indent=2)) for name, tool in form.tools.items()],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/agents_app/agent/run_tool.html", context)


class TaskStepsMixin:
    """Readable JSON for the task's input, output and (LLM tool loop) steps."""

    @admin.display(description="parameters")
    def parameters_pretty(self, obj: AgentTask) -> SafeString:
        return pretty_json(obj.parameters)

    @admin.display(description="result")
    def result_pretty(self, obj: AgentTask) -> SafeString:
        result = obj.result
        if isinstance(result, dict) and "steps" in result:
            result = {k: v for k, v in result.items() if k != "steps"}
        return pretty_json(result)

    @admin.display(description="steps")
    def steps_pretty(self, obj: AgentTask) -> SafeString:
        steps = obj.result.get("steps") if isinstance(obj.result, dict) else None
        return pretty_json(steps)


@admin.register(AgentTask)
class AgentTaskAdmin(TaskStepsMixin, admin.ModelAdmin[AgentTask]):
    list_display = (
        "id",
        "agent",
        "action",
        "status",
        "progress",
        "attempts",
        "duration_ms",
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "agent", "agent__category", "created_at", "action")
    search_fields = ("=id", "agent__slug", "action", "error", "idempotency_key")
    list_select_related = ("agent", "requested_by")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("id", "agent", "action", "status", "progress", "attempts", "cancel_requested")}),
        ("Input and output", {"fields": ("parameters_pretty", "result_pretty", "steps_pretty", "error_code", "error")}),
        (
            "Timing",
            {
                "fields": (
                    "created_at",
                    "started_at",
                    "finished_at",
                    "duration_ms",
                    "lease_expires_at",
                    "requeued_at",
                    "worker",
                )
            },
        ),
        ("Cost", {"fields": ("provider", "model", "tokens", "cost")}),
        ("Origin", {"fields": ("requested_by", "retry_of", "use_round_table", "idempotency_key", "request_hash")}),
    )
    readonly_fields = (
        *(f.name for f in AgentTask._meta.fields if f.name != "parameters" and f.name != "result"),
        "parameters_pretty",
        "result_pretty",
        "steps_pretty",
    )
    actions = ("cancel_tasks", "retry_tasks")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are created through services (API or the agent action)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what agents did; old finished tasks go with `purge_tasks`

    @admin.action(description="Cancel selected tasks")
    def cancel_tasks(self, request: HttpRequest, queryset: QuerySet[AgentTask]) -> None:
        done = 0
        for task in queryset.filter(status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]).order_by():
            try:
                task_cancel(task=task)
            except DomainError as exc:  # finished between the listing and the click
                self.message_user(request, f"{task.pk}: {exc.message}", messages.WARNING)
                continue
            done += 1
        self.message_user(request, f"Cancel requested for {done} task(s).")

    @admin.action(description="Retry selected failed/cancelled tasks")
    def retry_tasks(self, request: HttpRequest, queryset: QuerySet[AgentTask]) -> None:
        for task in queryset.select_related("agent").order_by():
            try:
                retry = task_retry(task=task, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{task.pk}: {exc.message}", messages.WARNING)
                continue
            self.message_user(request, f"{task.pk}: retried as {retry.pk}.")


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
class SpendLedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[SpendLedgerEntry]):
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


# --- 3D generation and try-on jobs (issue 7): registered in agents_app/media/admin.py ------
# --- Marketing campaigns (issue 7/8): registered by their own module -------------------
from agents_app.marketing import admin as marketing_admin  # noqa: E402, F401
from agents_app.media import admin as media_admin  # noqa: E402, F401
