"""Round Table and workflow endpoints: parse, call a selector or service, render.

Round Tables run as tasks (``POST /agents/{id}/execute`` with ``use_round_table``);
these endpoints read them. A user sees the Round Tables and workflow runs of their
own requests; staff see all.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.exceptions import RoundTableNotFoundError
from agents_app.llm.models import RoundTable, RoundTableStatus
from agents_app.llm.selectors import provider_overview, round_table_stats, visible_round_tables
from agents_app.models import FailurePolicy, StepStatus, WorkflowRun, WorkflowStatus, WorkflowStep
from agents_app.services.workflows import (
    CUSTOM,
    workflow_cancel,
    workflow_create,
    workflow_detail,
)
from agents_app.workflow_templates import TEMPLATES
from devskyy.core.pagination import CursorPagination
from devskyy.core.schema import error_responses

# --- Round Table ---------------------------------------------------------------------


def entry_payload(entry: Any) -> dict[str, Any]:
    return {
        "provider": entry.provider,
        "model": entry.model,
        "status": entry.status,
        "text": entry.text,
        "error": entry.error,
        "finish_reason": entry.finish_reason,
        "latency_ms": entry.latency_ms,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "cost_usd": str(entry.cost_usd),
        "score": None if entry.score is None else str(entry.score),
        "score_breakdown": entry.score_breakdown,
        "rank": entry.rank,
    }


def round_table_payload(table: RoundTable, *, entries: bool) -> dict[str, Any]:
    winner = table.winner
    body: dict[str, Any] = {
        "id": str(table.id),
        "status": table.status,
        "prompt": table.prompt,
        "agent_id": table.agent_slug,
        "task_id": table.task_id or None,
        "winner": None
        if winner is None
        else {
            "provider": winner.provider,
            "model": winner.model,
            "score": None if winner.score is None else str(winner.score),
        },
        "verdict_method": table.verdict_method,
        "verdict_reason": table.verdict_reason,
        "judge_provider": table.judge_provider,
        "judge_model": table.judge_model,
        "judge_error": table.judge_error,
        "total_cost_usd": str(table.total_cost_usd),
        "created_at": table.created_at,
        "finished_at": table.finished_at,
    }
    if entries:
        body["entries"] = [entry_payload(e) for e in sorted(table.entries.all(), key=_entry_order)]
    return body


def _entry_order(entry: Any) -> tuple[int, str]:
    return (entry.rank if entry.rank is not None else 10_000, entry.provider)


class RoundTableWinnerSerializer(serializers.Serializer[dict[str, Any]]):
    provider = serializers.CharField()
    model = serializers.CharField()
    score = serializers.CharField(allow_null=True)


class RoundTableEntrySerializer(serializers.Serializer[dict[str, Any]]):
    provider = serializers.CharField()
    model = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "error"])
    text = serializers.CharField()
    error = serializers.CharField()
    finish_reason = serializers.CharField()
    latency_ms = serializers.IntegerField(allow_null=True)
    prompt_tokens = serializers.IntegerField(allow_null=True)
    completion_tokens = serializers.IntegerField(allow_null=True)
    cost_usd = serializers.CharField()
    score = serializers.CharField(allow_null=True, help_text="rubric score 0-100 (agents_app.llm.round_table)")
    score_breakdown = serializers.DictField(child=serializers.FloatField())
    rank = serializers.IntegerField(allow_null=True)


class RoundTableSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RoundTableStatus.choices)
    prompt = serializers.CharField()
    agent_id = serializers.CharField()
    task_id = serializers.CharField(allow_null=True)
    winner = RoundTableWinnerSerializer(allow_null=True)
    verdict_method = serializers.CharField(help_text="judge | top_score | top_score_fallback")
    verdict_reason = serializers.CharField()
    judge_provider = serializers.CharField()
    judge_model = serializers.CharField()
    judge_error = serializers.CharField()
    total_cost_usd = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class RoundTableDetailSerializer(RoundTableSerializer):
    entries = RoundTableEntrySerializer(many=True)


class RoundTablePagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100


class RoundTableListView(APIView):
    pagination_class = RoundTablePagination  # the page shape in the schema, and the pages below

    @extend_schema(
        parameters=[OpenApiParameter("cursor", OpenApiTypes.STR), OpenApiParameter("limit", OpenApiTypes.INT)],
        responses=RoundTableSerializer(many=True),
        summary="Round Tables you may see, newest first, cursor-paginated",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(visible_round_tables(request.user), request, view=self) or []
        return paginator.get_paginated_response([round_table_payload(t, entries=False) for t in page])


class RoundTableLatestView(APIView):
    @extend_schema(
        responses={200: RoundTableDetailSerializer, **error_responses(404)},
        summary="The newest Round Table you may see, with entries",
    )
    def get(self, request: Request) -> Response:
        table = visible_round_tables(request.user).prefetch_related("entries").order_by("-created_at").first()
        if table is None:
            raise RoundTableNotFoundError("No Round Table yet.")
        return Response(round_table_payload(table, entries=True))


class RoundTableDetailView(APIView):
    @extend_schema(responses=RoundTableDetailSerializer, summary="One Round Table with every entry and score")
    def get(self, request: Request, round_table_id: Any) -> Response:
        table = visible_round_tables(request.user).prefetch_related("entries").filter(pk=round_table_id).first()
        if table is None:
            raise RoundTableNotFoundError("No such Round Table.", details={"round_table_id": str(round_table_id)})
        return Response(round_table_payload(table, entries=True))


class RoundTableStatsView(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Aggregates over the Round Tables you may see: wins, average scores, latency and cost per provider",
    )
    def get(self, request: Request) -> Response:
        return Response(round_table_stats(visible_round_tables(request.user)))


class RoundTableProvidersView(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Enabled LLM providers with circuit breaker state and measured average latency",
    )
    def get(self, request: Request) -> Response:
        return Response({"providers": provider_overview()})


# --- Workflows -----------------------------------------------------------------------


class WorkflowCreateInputSerializer(serializers.Serializer[dict[str, Any]]):
    workflow_name = serializers.ChoiceField(choices=[*TEMPLATES, CUSTOM])
    parameters = serializers.DictField(required=False, default=dict)
    agents = serializers.DictField(
        child=serializers.SlugField(max_length=64),
        required=False,
        default=dict,
        help_text="step id -> agent id: run that step with another agent (which must be allowed the action)",
    )
    parallel = serializers.BooleanField(required=False, default=True)


class WorkflowStepSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    agent_id = serializers.CharField()
    action = serializers.CharField()
    depends_on = serializers.ListField(child=serializers.CharField())
    on_failure = serializers.ChoiceField(choices=FailurePolicy.choices)
    status = serializers.ChoiceField(choices=StepStatus.choices)
    parameters = serializers.JSONField()
    resolved_parameters = serializers.JSONField(allow_null=True)
    task_id = serializers.UUIDField(allow_null=True)
    task_status = serializers.CharField(allow_null=True)
    progress = serializers.IntegerField(allow_null=True)
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField()
    error_code = serializers.CharField()
    provider = serializers.CharField()
    tokens = serializers.IntegerField()
    cost = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class WorkflowRunSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.UUIDField()
    workflow_name = serializers.CharField()
    status = serializers.ChoiceField(choices=WorkflowStatus.choices)
    parallel = serializers.BooleanField()
    failure_policy = serializers.ChoiceField(choices=FailurePolicy.choices)
    parameters = serializers.JSONField()
    error = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    steps = WorkflowStepSerializer(many=True)


def step_payload(step: WorkflowStep) -> dict[str, Any]:
    task = step.task
    return {
        "id": step.step_id,
        "agent_id": step.agent.slug,
        "action": step.action,
        "depends_on": step.depends_on,
        "on_failure": step.on_failure,
        "status": step.status,
        "parameters": step.parameters,
        "resolved_parameters": step.resolved_parameters,
        "task_id": str(task.id) if task else None,
        "task_status": task.status if task else None,
        "progress": task.progress if task else None,
        "result": task.result if task else None,
        "error": step.error,
        "error_code": step.error_code,
        "provider": task.provider if task else "",
        "tokens": task.tokens if task else 0,
        "cost": str(task.cost) if task else "0",
        "started_at": step.started_at,
        "finished_at": step.finished_at,
    }


def run_payload(run: WorkflowRun, steps: list[WorkflowStep]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    return {
        "id": str(run.id),
        "workflow_name": run.name,
        "status": run.status,
        "parallel": run.parallel,
        "failure_policy": run.failure_policy,
        "parameters": run.parameters,
        "error": run.error,
        "counts": counts,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "steps": [step_payload(s) for s in steps],
    }


class WorkflowCreateView(APIView):
    @extend_schema(
        request=WorkflowCreateInputSerializer,
        responses={202: WorkflowRunSerializer},
        summary="Start a workflow (template or custom DAG); its steps run as tasks on the queue",
    )
    def post(self, request: Request) -> Response:
        data = WorkflowCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = workflow_create(
            name=data.validated_data["workflow_name"],
            parameters=data.validated_data["parameters"],
            agents=data.validated_data["agents"] or None,
            parallel=data.validated_data["parallel"],
            user=request.user,
        )
        fresh = workflow_detail(user=request.user, run_id=str(run.id))
        response = Response(run_payload(fresh, list(fresh.steps.all())), status=202)
        response["Location"] = f"/api/v1/orchestration/workflows/{run.id}"
        return response


class WorkflowTemplatesView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Workflow templates with their parameter schemas")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "templates": [
                    {"name": t.name, "description": t.description, "failure_policy": t.policy, "parameters": t.schema}
                    for t in TEMPLATES.values()
                ]
            }
        )


class WorkflowDetailView(APIView):
    @extend_schema(responses=WorkflowRunSerializer, summary="A workflow run's status with every step's result")
    def get(self, request: Request, run_id: Any) -> Response:
        run = workflow_detail(user=request.user, run_id=str(run_id))
        return Response(run_payload(run, list(run.steps.all())))


class WorkflowCancelView(APIView):
    @extend_schema(
        request=None,
        responses={202: WorkflowRunSerializer, **error_responses(409)},
        summary="Cancel a running workflow: waiting steps never start, running tasks are asked to stop",
    )
    def post(self, request: Request, run_id: Any) -> Response:
        run = workflow_detail(user=request.user, run_id=str(run_id))
        workflow_cancel(run=run)
        fresh = workflow_detail(user=request.user, run_id=str(run_id))
        return Response(run_payload(fresh, list(fresh.steps.all())), status=202)
