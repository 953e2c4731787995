"""Provider options a caller may pass through (JSON Schema; the API and the tool share it).

Tripo task fields we forward as given (documented task parameters); anything else is
refused, so no caller can smuggle other fields (e.g. a ``file`` URL) into the task.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

TRIPO_OPTIONS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "model_version": {"type": "string", "minLength": 1, "maxLength": 64},
        "negative_prompt": {"type": "string", "maxLength": 255},
        "texture": {"type": "boolean"},
        "pbr": {"type": "boolean"},
        "texture_quality": {"type": "string", "enum": ["standard", "detailed"]},
        "face_limit": {"type": "integer", "minimum": 500, "maximum": 500000},
    },
}
TRIPO_PROMPT_MAX = 1024
_VALIDATOR = Draft202012Validator(TRIPO_OPTIONS)


def option_errors(options: Any) -> list[dict[str, str]]:
    return [
        {"path": "/" + "/".join(str(p) for p in error.absolute_path), "message": error.message}
        for error in sorted(_VALIDATOR.iter_errors(options), key=lambda e: list(e.absolute_path))
    ]
