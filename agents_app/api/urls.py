from django.urls import path

from agents_app.api import views

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
]
