"""On real PostgreSQL: advancing a workflow is race-free across workers.

Two workers finish the two parallel parents of a join step at the same moment; each
advances the run after its commit. The run's row lock serialises them, so the join
step starts exactly once, whichever commits last.
"""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from agents_app.models import AgentTask, WorkflowRun, WorkflowStep
from agents_app.services.execution import task_execute
from agents_app.services.workflows import workflow_create
from commerce_app.models import Product
from devskyy.core import background

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

STEPS = [
    {"id": "left", "agent": "commerce-001", "action": "stock_query", "parameters": {"skus": ["CAP-SAGE"]}},
    {"id": "right", "agent": "commerce-001", "action": "product_lookup", "parameters": {"sku": "CAP-SAGE"}},
    {
        "id": "join",
        "agent": "commerce-001",
        "action": "catalog_search",
        "parameters": {"query": {"$ref": "steps.right.result.name"}},
        "depends_on": ["left", "right"],
    },
]


def test_two_workers_finishing_parents_at_once_start_the_join_step_once(monkeypatch) -> None:
    assert connection.vendor == "postgresql"

    call_command("seed_agents", stdout=io.StringIO())
    Product.objects.create(
        sku="CAP-SAGE",
        name="Sage Cap",
        category="caps",
        collection="Signature",
        price=Decimal("38"),
        cost=Decimal("9"),
        stock=41,
    )
    user = get_user_model().objects.create_user(username="racer", password="x-very-long-password-1")
    queued: list[str] = []
    monkeypatch.setattr(background, "dispatch_now", lambda task, task_id: queued.append(str(task_id)))

    for _ in range(5):
        queued.clear()
        run = workflow_create(name="custom", parameters={"steps": STEPS}, user=user)
        assert len(queued) == 2
        parents = list(queued)
        barrier = threading.Barrier(2)

        def work(task_id: str, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(timeout=10)
                task_execute(task_id=task_id, worker=f"w-{task_id[:4]}")
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(tid,)) for tid in parents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        join = WorkflowStep.objects.get(run=run, step_id="join")
        assert join.status == "running"
        assert join.resolved_parameters == {"query": "Sage Cap"}
        assert AgentTask.objects.filter(workflow_step__run=run).count() == 3
        assert queued[2:] == [str(join.task_id)]  # queued exactly once

        task_execute(task_id=str(join.task_id), worker="w-join")
        assert WorkflowRun.objects.get(pk=run.pk).status == "completed"
