from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """AI agents: registry, tools, tasks and the live WebSocket feed."""

    name = "agents_app"
    verbose_name = "Agents"

    def ready(self) -> None:
        # The LLM gateway's models live in agents_app.llm.models (app_label agents_app).
        from agents_app.llm import models as llm_models  # noqa: F401
