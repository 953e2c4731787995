"""Agent registry."""

from __future__ import annotations

from django.db import models


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
    drive its LLM work. Statistics are never stored here: they are aggregated from
    the agent's real tasks.
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
