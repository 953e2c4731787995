"""The agents list (``GET /api/v1/agents``), rendered once per version of what it shows.

The list carries each agent's statistics over its task rows. They were an aggregate of
the whole task history (10 ms at 10,000 tasks, which capped the endpoint at under 200
requests/s, PERF P1) and are now read from totals the database keeps
(models.AgentTaskTotals: 2.8 ms for a render at any history). The JSON is rendered
once per *version* and served from process memory while the version holds.

Correctness (stats stay real):

* The version is the ``agents_list`` counter of devskyy/core/versions.py (Redis in
  production), read on every request: on /api/ requests it comes with the rate
  limiter's round trip, so a hit costs no I/O at all. Every service that changes what the list shows calls
  :func:`agents_list_changed` (task claimed or finished, agent started, stopped,
  seeded or edited in the admin); the counter is bumped *after commit*, so each web
  process re-renders on its next request and no reader keeps a pre-commit picture
  under the new version (the version is read before the database is).
* A payload rendered inside a transaction (which may roll back, and sees its own
  uncommitted rows) is served but never stored.
* Redis unreachable: the version cannot be read, so nothing is served from memory;
  every request renders from the database until Redis answers again.
* Writes that bypass the services (raw SQL, ``bulk_create``, a bump lost while Redis
  was down) are bounded by AGENTS_LIST_CACHE_SECONDS: a stored payload is never
  served longer than that.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from agents_app import selectors
from agents_app.integrations import integration_status
from agents_app.models import Agent
from devskyy.core import versions

VERSION = "agents_list"
# The rendered JSON, kept per version and integration status.
_copy: versions.VersionedCopy[bytes] = versions.VersionedCopy(
    VERSION, seconds=lambda: float(settings.AGENTS_LIST_CACHE_SECONDS), prefetch=True
)


def agent_payload(agent: Agent, status: dict[str, bool]) -> dict[str, Any]:
    """One agent as the dashboard reads it (``AgentOutputSerializer`` documents it)."""
    return {
        "id": agent.slug,
        "type": agent.type,
        "name": agent.name,
        "description": agent.description,
        "category": agent.category,
        "status": selectors.agent_effective_status(agent),
        "enabled": agent.enabled,
        "capabilities": agent.capabilities,
        "tools": agent.tools,
        "mlModels": agent.ml_models,
        "preferredProvider": agent.preferred_provider,
        "preferredModel": agent.preferred_model,
        "stats": selectors.agent_stats(agent),
        "statusDetail": selectors.agent_requirements(agent, status),
    }


def render(status: dict[str, bool]) -> bytes:
    """Every agent with its statistics as compact JSON (what DRF's JSONRenderer writes)."""
    payload = [agent_payload(agent, status) for agent in selectors.agents_with_stats()]
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def agents_list_changed() -> None:
    """What the agents list shows changed (or will, once the transaction commits)."""
    _copy.changed()


def agents_list_json(request: Any = None) -> bytes:
    """The agents list as JSON, from memory while its version holds (module docstring).

    ``request``: its prefetched versions are used (no extra Redis round trip)."""
    status = integration_status(request)
    status_key = tuple(status[name] for name in sorted(status))
    return _copy.get(lambda: render(status), key=status_key, request=request)


def forget() -> None:
    """Drop this process's stored payload (tests)."""
    _copy.forget()
