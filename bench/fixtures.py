"""Data the benchmarks need in the benchmark database, made through the real services.

Run in a subprocess with the production environment (bench.common.django_json):

    python -m bench.fixtures credentials          -> {"api_key", "jwt", "user_id"}
    python -m bench.fixtures tasks <N>            -> {"tasks": <count>} (at least N finished tasks)
    python -m bench.fixtures publish <K> <gap_s>  -> {"published": K} (K agent_status_update events)
    python -m bench.fixtures enqueue              -> {"id": <a queued low_stock_report task>}
    python -m bench.fixtures task <id>            -> {"status", "started_at", "finished_at"} (Unix times)
    python -m bench.fixtures unfinished <iso time> -> {"unfinished": <tasks created since then not final>}

Credentials: an ``operator`` user (JWT access token valid for the run) and an
``api_user`` API key, both created anew each run (keys are shown once).
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")


def credentials() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from devskyy.core.accounts import user_set_roles
    from devskyy.core.api_keys import api_key_create
    from devskyy.core.roles import Role

    name = f"bench-{uuid.uuid4().hex[:8]}"
    user = get_user_model().objects.create_user(username=name, password=uuid.uuid4().hex, email=f"{name}@example.com")
    user_set_roles(user=user, roles=[Role.OPERATOR])
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(hours=6))
    created = api_key_create(name=name, role=Role.API_USER.value)
    return {"api_key": created.key, "jwt": str(token), "user_id": user.pk}


def tasks(minimum: int) -> dict[str, Any]:
    """At least ``minimum`` finished tasks spread over every agent (bulk insert: this is
    the history a running platform accumulates, the agents list aggregates it)."""
    from django.utils import timezone

    from agents_app.models import Agent, AgentTask, TaskStatus

    have = AgentTask.objects.count()
    agents = list(Agent.objects.all())
    rng = random.Random(42)
    now = timezone.now()
    missing = max(0, minimum - have)
    rows = []
    for i in range(missing):
        agent = agents[i % len(agents)]
        status = TaskStatus.COMPLETED if rng.random() < 0.9 else TaskStatus.FAILED
        started = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        duration = rng.randint(5, 5000)
        rows.append(
            AgentTask(
                agent=agent,
                action=(agent.tools or ["none"])[0],
                status=status,
                progress=100,
                cost=Decimal("0"),
                duration_ms=duration,
                attempts=1,
                created_at=started,
                started_at=started,
                finished_at=started + timedelta(milliseconds=duration),
                result={} if status == TaskStatus.COMPLETED else None,
                error="" if status == TaskStatus.COMPLETED else "bench",
            )
        )
    AgentTask.objects.bulk_create(rows, batch_size=2000)
    if missing:
        from bench.common import analyze

        analyze()  # the planner's statistics, as autovacuum would keep them in production
    return {"tasks": AgentTask.objects.count()}


def publish(count: int, gap: float) -> dict[str, Any]:
    """K ``agent_status_update`` events on ``agents`` through the real publishing path
    (devskyy.core.events.deliver: stored, then broadcast), ``gap`` seconds apart. Each
    carries ``data.sent``: the wall-clock time just before ``deliver`` was called."""
    import time

    from devskyy.core.events import deliver

    seqs = []
    for i in range(count):
        payload = {"agent_id": "bench-000", "status": "idle", "data": {"bench": i, "sent": time.time()}}
        seqs.append(deliver("agents", "agent_status_update", payload, "bench-000", "", None, True))
        time.sleep(gap)
    return {"published": count, "seqs": seqs}


def unfinished(since: str) -> dict[str, Any]:
    """Tasks created since ``since`` (ISO time) that are not final yet."""
    from datetime import datetime

    from agents_app.models import FINAL_STATUSES, AgentTask

    left = AgentTask.objects.filter(created_at__gte=datetime.fromisoformat(since)).exclude(status__in=FINAL_STATUSES)
    return {"unfinished": left.count()}


def enqueue() -> dict[str, Any]:
    """One ``low_stock_report`` task through the service (row, event, enqueue after commit)."""
    from django.contrib.auth import get_user_model

    from agents_app.services.tasks import task_create

    user = get_user_model().objects.filter(username__startswith="bench-").order_by("-pk").first()
    created = task_create(agent_slug="commerce-001", action="low_stock_report", parameters={"threshold": 5}, user=user)
    return {"id": str(created.task.id)}


def task(task_id: str) -> dict[str, Any]:
    """A task's status and its start/finish as Unix times."""
    from agents_app.models import AgentTask

    row = AgentTask.objects.get(pk=task_id)
    return {
        "status": row.status,
        "started_at": row.started_at.timestamp() if row.started_at else None,
        "finished_at": row.finished_at.timestamp() if row.finished_at else None,
    }


def main() -> None:
    import django

    django.setup()
    command = sys.argv[1]
    if command == "credentials":
        out = credentials()
    elif command == "tasks":
        out = tasks(int(sys.argv[2]))
    elif command == "enqueue":
        out = enqueue()
    elif command == "task":
        out = task(sys.argv[2])
    elif command == "unfinished":
        out = unfinished(sys.argv[2])
    elif command == "publish":
        out = publish(int(sys.argv[2]), float(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
