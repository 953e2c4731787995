from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """AI agents: registry, tools, tasks and the live WebSocket feed."""

    name = "agents_app"
    verbose_name = "Agents"
