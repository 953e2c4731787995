from django.urls import path

from agents_app.api import orchestration, views

app_name = "agents"

urlpatterns = [
    path("agents", views.AgentListView.as_view(), name="agent-list"),
    path("agents/<slug:slug>", views.AgentDetailView.as_view(), name="agent-detail"),
    path("agents/<slug:slug>/stats", views.AgentStatsView.as_view(), name="agent-stats"),
    path("agents/<slug:slug>/tools", views.AgentToolsView.as_view(), name="agent-tools"),
    path("agents/<slug:slug>/start", views.AgentStartView.as_view(), name="agent-start"),
    path("agents/<slug:slug>/stop", views.AgentStopView.as_view(), name="agent-stop"),
    path("agents/<slug:slug>/execute", views.AgentExecuteView.as_view(), name="agent-execute"),
    path("tools", views.ToolListView.as_view(), name="tool-list"),
    path("tasks", views.TaskListCreateView.as_view(), name="task-list"),
    path("tasks/<uuid:task_id>", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<uuid:task_id>/cancel", views.TaskCancelView.as_view(), name="task-cancel"),
    path("round-table", orchestration.RoundTableListView.as_view(), name="round-table-list"),
    path("round-table/latest", orchestration.RoundTableLatestView.as_view(), name="round-table-latest"),
    path("round-table/stats", orchestration.RoundTableStatsView.as_view(), name="round-table-stats"),
    path("round-table/providers", orchestration.RoundTableProvidersView.as_view(), name="round-table-providers"),
    path("round-table/<uuid:round_table_id>", orchestration.RoundTableDetailView.as_view(), name="round-table-detail"),
    path("orchestration/workflows", orchestration.WorkflowCreateView.as_view(), name="workflow-create"),
    path("orchestration/workflows/templates", orchestration.WorkflowTemplatesView.as_view(), name="workflow-templates"),
    path("orchestration/workflows/<uuid:run_id>", orchestration.WorkflowDetailView.as_view(), name="workflow-detail"),
    path(
        "orchestration/workflows/<uuid:run_id>/cancel",
        orchestration.WorkflowCancelView.as_view(),
        name="workflow-cancel",
    ),
]
