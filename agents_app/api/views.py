"""Agents, tools and tasks endpoints: parse, call a selector or service, render."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app import agent_list, selectors
from agents_app.agent_list import agent_payload
from agents_app.api.serializers import (
    AgentOutputSerializer,
    AgentStatsSerializer,
    ExecuteInputSerializer,
    TaskCreateInputSerializer,
    TaskListFilterSerializer,
    TaskOutputSerializer,
    ToolOutputSerializer,
)
from agents_app.exceptions import AgentNotFoundError
from agents_app.integrations import integration_status
from agents_app.models import Agent, AgentTask
from agents_app.services.agents import agent_start, agent_stop
from agents_app.services.tasks import LLM_ACTION, CreatedTask, task_cancel, task_create
from agents_app.tools.base import Tool, registry
from devskyy.core.errors import DomainError
from devskyy.core.pagination import CursorPagination
from devskyy.core.roles import Role
from devskyy.core.schema import error_responses

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="same key + same body from the same user returns the first task (200); another body gives 409",
)


def tool_payload(tool: Tool, status: dict[str, bool]) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "category": tool.category,
        "kind": tool.kind,
        "requires": sorted(tool.requires),
        "available": all(status[name] for name in tool.requires),
        "input_schema": tool.input_schema,
    }


def _agent(slug: str) -> Agent:
    agent = selectors.agents_with_stats(slug=slug).first()
    if agent is None:
        raise AgentNotFoundError(f"No agent {slug!r}.", details={"agent_id": slug})
    return agent


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise DomainError(
            "Idempotency-Key must be 1-128 characters of letters, digits and . _ : -",
            code="invalid_idempotency_key",
        )
    return key


def _user(request: Request) -> AbstractBaseUser | AnonymousUser:
    return request.user


def _created_response(created: CreatedTask) -> Response:
    body = TaskOutputSerializer(created.task).data
    response = Response(body, status=202 if created.created else 200)
    response["Location"] = f"/api/v1/tasks/{created.task.id}"
    if not created.created:
        response["Idempotent-Replayed"] = "true"
    return response


class AgentListView(APIView):
    @extend_schema(responses=AgentOutputSerializer(many=True), summary="All agents with stats from their tasks")
    def get(self, request: Request) -> HttpResponse:
        body = agent_list.agents_list_json(request)
        if request.accepted_renderer.format == "json":
            return HttpResponse(body, content_type="application/json")
        return Response(json.loads(body))  # the browsable API (DEBUG)


class AgentDetailView(APIView):
    @extend_schema(responses=AgentOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(agent_payload(_agent(slug), integration_status()))


class AgentStatsView(APIView):
    @extend_schema(responses=AgentStatsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(selectors.agent_stats(_agent(slug)))


class AgentToolsView(APIView):
    @extend_schema(responses=ToolOutputSerializer(many=True), summary="Tools this agent may call")
    def get(self, request: Request, slug: str) -> Response:
        agent = _agent(slug)
        tools, status = registry(), integration_status()
        return Response([tool_payload(tools[name], status) for name in agent.tools if name in tools])


class AgentStartView(APIView):
    write_roles = frozenset({Role.ADMIN, Role.OPERATOR})

    @extend_schema(request=None, responses=AgentOutputSerializer, summary="Enable the agent")
    def post(self, request: Request, slug: str) -> Response:
        agent_start(slug=slug)
        return Response(agent_payload(_agent(slug), integration_status()))


class AgentStopView(APIView):
    write_roles = frozenset({Role.ADMIN, Role.OPERATOR})

    @extend_schema(request=None, responses=AgentOutputSerializer, summary="Disable the agent (refuses new tasks)")
    def post(self, request: Request, slug: str) -> Response:
        agent_stop(slug=slug)
        return Response(agent_payload(_agent(slug), integration_status()))


class AgentExecuteView(APIView):
    @extend_schema(
        request=ExecuteInputSerializer,
        responses={202: TaskOutputSerializer, 200: TaskOutputSerializer, **error_responses(409, 503)},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Queue an agent action: a tool by name, or a free-text request for the LLM",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = ExecuteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        text: str = data.validated_data["task"]
        parameters: dict[str, Any] = data.validated_data["parameters"]
        if text in registry():
            action = text
        else:
            action, parameters = LLM_ACTION, {"prompt": text, **parameters}
        created = task_create(
            agent_slug=slug,
            action=action,
            parameters=parameters,
            user=_user(request),
            idempotency_key=_idempotency_key(request),
            use_round_table=data.validated_data["use_round_table"],
        )
        return _created_response(created)


class ToolListView(APIView):
    @extend_schema(responses=ToolOutputSerializer(many=True), summary="Every registered tool")
    def get(self, request: Request) -> Response:
        status = integration_status()
        return Response([tool_payload(tool, status) for _, tool in sorted(registry().items())])


class TaskCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class TaskListCreateView(APIView):
    pagination_class = TaskCursorPagination  # the page shape in the schema, and the pages below

    @extend_schema(
        parameters=[
            TaskListFilterSerializer,
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
        responses=TaskOutputSerializer(many=True),
        summary="Tasks you may see (staff: all), newest first, cursor-paginated",
    )
    def get(self, request: Request) -> Response:
        filters = TaskListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = selectors.task_list(
            user=_user(request),
            agent_slug=f.get("agent"),
            status=f.get("status"),
            created_after=f.get("created_after"),
            created_before=f.get("created_before"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(TaskOutputSerializer(page, many=True).data)

    @extend_schema(
        request=TaskCreateInputSerializer,
        responses={202: TaskOutputSerializer, 200: TaskOutputSerializer, **error_responses(404, 409, 503)},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Queue a task: an agent's tool action with parameters",
    )
    def post(self, request: Request) -> Response:
        data = TaskCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = task_create(
            agent_slug=data.validated_data["agent_id"],
            action=data.validated_data["action"],
            parameters=data.validated_data["parameters"],
            user=_user(request),
            idempotency_key=_idempotency_key(request),
            use_round_table=data.validated_data["use_round_table"],
        )
        return _created_response(created)


class TaskDetailView(APIView):
    @extend_schema(responses=TaskOutputSerializer)
    def get(self, request: Request, task_id: str) -> Response:
        task = selectors.task_get_visible(user=_user(request), task_id=str(task_id))
        return Response(TaskOutputSerializer(task).data)


class TaskCancelView(APIView):
    @extend_schema(
        request=None,
        responses={202: TaskOutputSerializer, **error_responses(409)},
        summary="Cancel: a pending task never starts; a running one stops at its next checkpoint",
    )
    def post(self, request: Request, task_id: str) -> Response:
        task = selectors.task_get_visible(user=_user(request), task_id=str(task_id))
        cancelled: AgentTask = task_cancel(task=task)
        return Response(TaskOutputSerializer(cancelled).data, status=202)
