"""Operator console for agents and tasks: actions call services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents_app.agent_list import agents_list_changed
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
