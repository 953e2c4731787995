from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _providers_changed(**kwargs: Any) -> None:
    from agents_app.llm.routing import providers_changed

    providers_changed()


def _agents_changed(**kwargs: Any) -> None:
    from agents_app.services.agents import agents_changed

    agents_changed()


class AgentsConfig(AppConfig):
    """AI agents: registry, tools, tasks and the live WebSocket feed."""

    name = "agents_app"
    verbose_name = "Agents"

    def ready(self) -> None:
        # The LLM gateway's models live in agents_app.llm.models (app_label agents_app).
        from agents_app.llm import models as llm_models
        from agents_app.llm.cache import invalidate_products
        from agents_app.marketing import checks as marketing_checks  # noqa: F401
        from agents_app.marketing import models as marketing_models  # noqa: F401
        from agents_app.media import models as media_models  # noqa: F401
        from devskyy.core.catalog_changes import on_products_changed

        # Products changed (commerce services, admin, WooCommerce sync/webhooks): cached
        # LLM answers that quoted them can no longer be served.
        on_products_changed(invalidate_products)

        # Every process re-reads the stored LLM credentials after any change to them
        # (admin, services, key rotation): enabled_providers() keeps a copy per version.
        post_save.connect(_providers_changed, sender=llm_models.ProviderCredential, dispatch_uid="llm-providers-saved")
        post_delete.connect(
            _providers_changed, sender=llm_models.ProviderCredential, dispatch_uid="llm-providers-deleted"
        )
        # Every process re-reads the agents after any change to one (agent_get keeps a copy).
        from agents_app.models import Agent

        post_save.connect(_agents_changed, sender=Agent, dispatch_uid="agents-saved")
        post_delete.connect(_agents_changed, sender=Agent, dispatch_uid="agents-deleted")
