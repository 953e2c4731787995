"""The tool registry: named Python callables with a JSON-schema input.

A tool is ``fn(ctx, params) -> dict``. ``params`` has been validated against
``input_schema`` (JSON Schema 2020-12) before the task row was created and again
before the run. ``requires`` names integrations (agents_app.integrations) that must
be configured for the tool to run; without them the request fails fast with 503.
Tools call ``ctx.checkpoint(progress)`` between steps: it records progress and raises
``TaskCancelled`` when a cancel was requested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jsonschema import Draft202012Validator

from agents_app.exceptions import ToolInputInvalidError, UnknownToolError


class ToolContext(Protocol):
    agent_slug: str
    task_id: str | None

    def checkpoint(self, progress: int) -> None: ...


ToolFunction = Callable[[ToolContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    category: str
    input_schema: dict[str, Any]
    fn: ToolFunction
    requires: frozenset[str] = field(default_factory=frozenset)
    kind: str = "tool"  # "tool" (local data) or "llm" (needs a model provider)

    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.input_schema)


_REGISTRY: dict[str, Tool] = {}


def register(
    name: str,
    *,
    description: str,
    category: str,
    schema: dict[str, Any],
    requires: tuple[str, ...] = (),
    kind: str = "tool",
) -> Callable[[ToolFunction], ToolFunction]:
    """Decorator adding ``fn`` to the registry under ``name`` (schema checked now)."""
    full_schema = {"type": "object", "additionalProperties": False, **schema}
    Draft202012Validator.check_schema(full_schema)

    def decorate(fn: ToolFunction) -> ToolFunction:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"tool {name!r} registered twice")
        _REGISTRY[name] = Tool(
            name=name,
            description=description,
            category=category,
            input_schema=full_schema,
            fn=fn,
            requires=frozenset(requires),
            kind=kind,
        )
        return fn

    return decorate


def registry() -> dict[str, Tool]:
    from agents_app.tools import load

    load()
    return dict(_REGISTRY)


def get_tool(name: str) -> Tool:
    tool = registry().get(name)
    if tool is None:
        raise UnknownToolError(f"No tool named {name!r}.", details={"tool": name})
    return tool


def validate_input(tool: Tool, params: Any) -> dict[str, Any]:
    """Raise ToolInputInvalidError listing every schema error; return the params on success."""
    errors = sorted(tool.validator().iter_errors(params), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        details = [
            {"path": "/" + "/".join(str(part) for part in error.absolute_path), "message": error.message}
            for error in errors
        ]
        raise ToolInputInvalidError(
            f"Parameters for {tool.name!r} do not match its input schema: {details[0]['message']}",
            details={"tool": tool.name, "errors": details},
        )
    if not isinstance(params, dict):  # pragma: no cover - every schema's top level is an object
        raise ToolInputInvalidError("Parameters must be a JSON object.", details={"tool": tool.name})
    return params
