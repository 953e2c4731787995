"""Data of the LLM gateway: provider credentials, the spend ledger, budgets, Round Tables.

These models live in the ``agents_app`` app (``app_label``) and are loaded by
``AgentsConfig.ready()``. References to agents, tasks, products and campaigns are
loose (slugs and ids, no foreign keys) so the ledger outlives what it paid for and
other apps can write to it without importing each other.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from devskyy.core.encryption import decrypt

PROVIDER_KINDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "openai",
    "groq": "openai",
    "mistral": "openai",
    "cohere": "openai",
    "local": "openai",
}


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GOOGLE = "google", "Google Gemini"
    GROQ = "groq", "Groq"
    MISTRAL = "mistral", "Mistral"
    COHERE = "cohere", "Cohere"
    LOCAL = "local", "Local OpenAI-compatible server"


class ProviderCredential(models.Model):
    """An API key for a provider, stored encrypted (AES-256-GCM, devskyy.core.encryption).

    A row overrides the environment for its provider: its key and base URL are used
    and ``enabled=False`` switches the provider off even when an env key exists.
    ``priority`` orders providers in priority routing (lower first).
    """

    provider = models.CharField(max_length=32, choices=Provider.choices, unique=True)
    api_key_encrypted = models.TextField(blank=True, help_text="Ciphertext; never the key itself.")
    base_url = models.URLField(blank=True, help_text="Empty: the provider's public endpoint.")
    default_model = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["priority", "provider"]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({'enabled' if self.enabled else 'disabled'})"

    @property
    def api_key(self) -> str:
        return decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""


class SpendKind(models.TextChoices):
    LLM = "llm", "LLM tokens"
    MODEL_3D = "3d", "3D generation"
    TRYON = "tryon", "Virtual try-on"
    MESSAGING = "messaging", "Paid messaging"


class SpendSource(models.TextChoices):
    PROVIDER_USAGE = "provider_usage", "Provider-reported usage x price table"
    PRICE_TABLE = "price_table", "Flat price from the price table"
    PROVIDER_REPORTED = "provider_reported", "Amount reported by the provider"


class SpendLedgerEntry(models.Model):
    """One paid call to an outside provider (LLM, 3D, try-on, messaging).

    ``amount`` is what the call cost in ``currency``; ``source`` says where the figure
    comes from and ``price_source`` which price was applied (``price_table`` for a
    listed model, ``provider_default`` when the model was not in the table). A failed
    call is recorded too (``outcome="error"``, amount 0 unless the provider billed it),
    so the ledger shows every attempt an agent made. Cache hits make no call and write
    no row.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=16, choices=SpendKind.choices, default=SpendKind.LLM)
    amount = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    source = models.CharField(max_length=32, choices=SpendSource.choices, default=SpendSource.PROVIDER_USAGE)
    price_source = models.CharField(max_length=32, blank=True)
    provider = models.CharField(max_length=32, db_index=True)
    model = models.CharField(max_length=128, blank=True)
    outcome = models.CharField(max_length=16, default="ok")
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    agent_slug = models.CharField(max_length=64, blank=True, db_index=True)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    product_refs = models.JSONField(default=list, blank=True)
    campaign_ref = models.CharField(max_length=64, blank=True, db_index=True)  # campaign spend and results
    purpose = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["-created_at"]
        verbose_name_plural = "spend ledger entries"
        indexes = [models.Index(fields=["agent_slug", "created_at"], name="ledger_agent_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider} {self.amount} {self.currency}"


class AgentBudget(models.Model):
    """Per-agent override of the default daily limit (settings.LLM_DAILY_BUDGET_USD)."""

    agent_slug = models.CharField(max_length=64, unique=True)
    daily_limit_usd = models.DecimalField(max_digits=12, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["agent_slug"]

    def __str__(self) -> str:
        return f"{self.agent_slug}: {self.daily_limit_usd} USD/day"


class DailyBudget(models.Model):
    """An agent's spend for one UTC day: ``spent + reserved`` never exceeds ``limit_usd``
    when a call is admitted. Reservations are taken with one conditional UPDATE, so
    concurrent workers cannot both take the last dollar; the limit is copied from the
    override or the default when the row is first created for the day."""

    agent_slug = models.CharField(max_length=64)
    day = models.DateField()
    limit_usd = models.DecimalField(max_digits=12, decimal_places=4)
    reserved_usd = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    spent_usd = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["-day", "agent_slug"]
        constraints = [
            models.UniqueConstraint(fields=["agent_slug", "day"], name="daily_budget_agent_day"),
            models.CheckConstraint(condition=Q(reserved_usd__gte=0), name="daily_budget_reserved_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_slug} {self.day}: {self.spent_usd}/{self.limit_usd} USD"


class RoundTableStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class RoundTable(models.Model):
    """The same prompt sent to every enabled provider; answers scored, a judge decides.

    ``verdict_method`` is ``judge`` when the judge model picked the winner,
    ``top_score`` when only one answer qualified, ``top_score_fallback`` when the
    judge failed (``judge_error`` says why) and the best rubric score won.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    prompt = models.TextField()
    system_prompt = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=RoundTableStatus.choices, default=RoundTableStatus.RUNNING)
    agent_slug = models.CharField(max_length=64, blank=True, db_index=True)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The user whose task asked for it (loose reference like the others): who may see it.
    owner_id = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    winner = models.ForeignKey(
        "agents_app.RoundTableEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verdict_method = models.CharField(max_length=32, blank=True)
    verdict_reason = models.TextField(blank=True)
    judge_provider = models.CharField(max_length=32, blank=True)
    judge_model = models.CharField(max_length=128, blank=True)
    judge_error = models.TextField(blank=True)
    total_cost_usd = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Round Table {self.id} ({self.status})"


class RoundTableEntry(models.Model):
    """One provider's answer in a Round Table, with its rubric score and breakdown."""

    round_table = models.ForeignKey(RoundTable, on_delete=models.CASCADE, related_name="entries")
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=128)
    status = models.CharField(max_length=16)  # ok | error
    text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    score_breakdown = models.JSONField(default=dict, blank=True)
    rank = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        app_label = "agents_app"
        ordering = ["round_table", "rank", "provider"]
        constraints = [models.UniqueConstraint(fields=["round_table", "provider"], name="round_table_entry_provider")]

    def __str__(self) -> str:
        return f"{self.provider} in {self.round_table_id}"
