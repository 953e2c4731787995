"""Code scanning and fixing tools (ruff on submitted source; see capabilities.code_analysis)."""

from __future__ import annotations

from typing import Any

from agents_app.capabilities.code_analysis import MAX_FILE_BYTES, MAX_FILES, SourceFile, fix_sources, scan_sources
from agents_app.tools.base import ToolContext, register

FILES_SCHEMA: dict[str, Any] = {
    "files": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_FILES,
        "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 255},
                "content": {"type": "string", "maxLength": MAX_FILE_BYTES},
            },
            "required": ["name", "content"],
        },
    }
}


def _files(params: dict[str, Any]) -> list[SourceFile]:
    return [SourceFile(name=item["name"], content=item["content"]) for item in params["files"]]


@register(
    "code_scan",
    description="Scan submitted Python files with ruff's lint and security rules: issues with file, line, "
    "column, severity, rule, message and whether a fix is available.",
    category="operations",
    schema={"properties": FILES_SCHEMA, "required": ["files"]},
)
def code_scan(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    return scan_sources(_files(params)).as_dict()


@register(
    "code_fix",
    description="Apply ruff's safe fixes to submitted Python files: fixed source, a unified diff per file and "
    "the issues that remain.",
    category="operations",
    schema={"properties": FILES_SCHEMA, "required": ["files"]},
)
def code_fix(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    return fix_sources(_files(params)).as_dict()
