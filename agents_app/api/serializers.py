"""Input and output serializers of the agents API (explicit, one per direction)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from agents_app.models import AgentTask, TaskStatus


class AgentStatsSerializer(serializers.Serializer[dict[str, Any]]):
    tasksCompleted = serializers.IntegerField()  # noqa: N815 - dashboard contract
    tasksFailed = serializers.IntegerField()  # noqa: N815
    tasksRunning = serializers.IntegerField()  # noqa: N815
    successRate = serializers.FloatField(allow_null=True, help_text="completed / (completed + failed), percent")  # noqa: N815
    avgLatencyMs = serializers.FloatField(allow_null=True, help_text="mean run time of completed tasks")  # noqa: N815
    totalCostUsd = serializers.DecimalField(max_digits=18, decimal_places=6)  # noqa: N815
    learningCycles = serializers.IntegerField(  # noqa: N815
        allow_null=True, help_text="always null until a feedback loop exists (never invented)"
    )


class AgentStatusDetailSerializer(serializers.Serializer[dict[str, Any]]):
    ready = serializers.BooleanField()
    requirements = serializers.DictField(child=serializers.BooleanField())
    missing = serializers.ListField(child=serializers.CharField())


class AgentOutputSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField(help_text="slug, e.g. commerce-001")
    type = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    status = serializers.ChoiceField(choices=["idle", "running", "error", "disabled"])
    enabled = serializers.BooleanField()
    capabilities = serializers.ListField(child=serializers.CharField())
    tools = serializers.ListField(child=serializers.CharField())
    mlModels = serializers.ListField(child=serializers.CharField())  # noqa: N815
    preferredProvider = serializers.CharField()  # noqa: N815
    preferredModel = serializers.CharField()  # noqa: N815
    stats = AgentStatsSerializer()
    statusDetail = AgentStatusDetailSerializer()  # noqa: N815


class ToolOutputSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    kind = serializers.ChoiceField(choices=["tool", "llm"])
    requires = serializers.ListField(child=serializers.CharField())
    available = serializers.BooleanField(help_text="every required integration is configured")
    input_schema = serializers.JSONField()


class ExecuteInputSerializer(serializers.Serializer[dict[str, Any]]):
    task = serializers.CharField(
        max_length=20000,
        help_text="a tool name from the agent's tools, or a free-text request for the agent's LLM",
    )
    parameters = serializers.DictField(required=False, default=dict)
    use_round_table = serializers.BooleanField(required=False, default=False)


class TaskCreateInputSerializer(serializers.Serializer[dict[str, Any]]):
    agent_id = serializers.SlugField(max_length=64)
    action = serializers.CharField(max_length=64)
    parameters = serializers.DictField(required=False, default=dict)
    use_round_table = serializers.BooleanField(required=False, default=False)


class TaskListFilterSerializer(serializers.Serializer[dict[str, Any]]):
    agent = serializers.SlugField(max_length=64, required=False)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class TaskOutputSerializer(serializers.ModelSerializer[AgentTask]):
    agent_id = serializers.CharField(source="agent.slug")
    cost = serializers.DecimalField(max_digits=12, decimal_places=6)

    class Meta:
        model = AgentTask
        fields = [
            "id",
            "agent_id",
            "action",
            "parameters",
            "use_round_table",
            "status",
            "progress",
            "result",
            "error",
            "error_code",
            "provider",
            "model",
            "tokens",
            "cost",
            "attempts",
            "cancel_requested",
            "retry_of",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields
