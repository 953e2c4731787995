"""Agent writes: seeding the catalog, starting and stopping agents."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db import transaction

from agents_app import catalog
from agents_app.agent_list import agents_list_changed
from agents_app.events import publish_agent_status
from agents_app.exceptions import AgentNotFoundError
from agents_app.models import Agent, AgentStatus
from agents_app.tools.base import registry
from devskyy.core.errors import DomainError
from devskyy.core.versions import VersionedCopy

# Every agent by slug, read once per version of the agents table and process
# (devskyy/core/versions.py): every task created looked its agent up, a quarter of a
# producer's time (PERF P5, bench/README.md). Every save and delete of an Agent (these
# services, seeding, the admin) bumps the version after commit (agents_app/apps.py);
# writes that bypass the model are seen within a minute.
# Workers take a claimed task's agent from it too (by primary key), rather than joining
# the agent's row, JSON columns and all, into every claim.


@dataclass(frozen=True)
class _Agents:
    by_slug: dict[str, Agent]
    by_id: dict[int, Agent]


_AGENTS: VersionedCopy[_Agents] = VersionedCopy("agents", seconds=60.0)


@dataclass(frozen=True)
class SeedResult:
    created: int
    updated: int
    total: int


@transaction.atomic
def agents_seed() -> SeedResult:
    """update_or_create every catalog entry by slug; rows not in the catalog are left alone.

    Refuses (nothing written) when an entry names a tool that is not registered: an
    agent must never be seeded with an action that cannot run.
    """
    definitions = catalog.definitions()
    known = registry()
    unknown = sorted({f"{d['slug']}: {tool}" for d in definitions for tool in d["tools"] if tool not in known})
    if unknown:
        raise DomainError(
            f"The agent catalog names {len(unknown)} unregistered tool(s): {', '.join(unknown[:10])}.",
            code="catalog_invalid",
        )
    created = updated = 0
    for definition in definitions:
        _, was_created = Agent.objects.update_or_create(
            slug=definition["slug"], defaults=catalog.as_defaults(definition)
        )
        if was_created:
            created += 1
        else:
            updated += 1
    agents_list_changed()
    return SeedResult(created=created, updated=updated, total=Agent.objects.count())


def agents_changed() -> None:
    """An agent row was saved or deleted (or will be, once the transaction commits)."""
    _AGENTS.changed()


def forget_agents() -> None:
    """Drop this process's copy of the agents (tests)."""
    _AGENTS.forget()


def _read_agents() -> _Agents:
    agents = list(Agent.objects.all())
    return _Agents({agent.slug: agent for agent in agents}, {agent.pk: agent for agent in agents})


def agent_get(slug: str) -> Agent:
    """The agent ``slug``, or AgentNotFoundError. The instance is the caller's own (fields
    may be reassigned or saved); its JSON values (tools, capabilities) are shared with
    the kept copy and must not be changed in place."""
    agent = _AGENTS.get(_read_agents).by_slug.get(slug)
    if agent is None:
        raise AgentNotFoundError(f"No agent {slug!r}.", details={"agent_id": slug})
    return copy.copy(agent)


def agent_by_id(pk: int) -> Agent:
    """The agent with primary key ``pk`` (a task's agent), as :func:`agent_get` keeps
    it; read from the database when the kept copy does not have it (yet)."""
    agent = _AGENTS.get(_read_agents).by_id.get(pk)
    if agent is None:
        return Agent.objects.get(pk=pk)
    return copy.copy(agent)


@transaction.atomic
def agent_start(*, slug: str) -> Agent:
    """Enable the agent: it accepts tasks again. Idempotent."""
    agent = Agent.objects.select_for_update().filter(slug=slug).first()
    if agent is None:
        raise AgentNotFoundError(f"No agent {slug!r}.", details={"agent_id": slug})
    if not agent.enabled or agent.status != AgentStatus.IDLE:
        agent.enabled = True
        agent.status = AgentStatus.IDLE
        agent.save(update_fields=["enabled", "status", "updated_at"])
        agents_list_changed()
        publish_agent_status(agent, reason="started")
    return agent


@transaction.atomic
def agent_stop(*, slug: str) -> Agent:
    """Disable the agent: new tasks are refused; tasks already queued still run. Idempotent."""
    agent = Agent.objects.select_for_update().filter(slug=slug).first()
    if agent is None:
        raise AgentNotFoundError(f"No agent {slug!r}.", details={"agent_id": slug})
    if agent.enabled or agent.status != AgentStatus.DISABLED:
        agent.enabled = False
        agent.status = AgentStatus.DISABLED
        agent.save(update_fields=["enabled", "status", "updated_at"])
        agents_list_changed()
        publish_agent_status(agent, reason="stopped")
    return agent
