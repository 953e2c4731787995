"""Tool registry: ``registry()``, ``get_tool(name)``, ``validate_input(tool, params)``.

Built-in tool modules are imported on first use; AGENT_EXTRA_TOOL_MODULES names more
modules to import (extension point; the test suite uses it for a slow test tool).
"""

from __future__ import annotations

import importlib

from django.conf import settings

_BUILTIN = (
    "agents_app.tools.commerce",
    "agents_app.tools.analytics",
    "agents_app.tools.platform",
    "agents_app.tools.integrations",
    "agents_app.tools.code",
    "agents_app.tools.ml",
    "agents_app.tools.wordpress",
    "agents_app.tools.media",
    "agents_app.tools.marketing",
)
_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    for module in (*_BUILTIN, *settings.AGENT_EXTRA_TOOL_MODULES):
        importlib.import_module(module)
    _loaded = True
