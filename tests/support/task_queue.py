"""A deterministic stand-in for the task queue in tests.

``dispatch_now`` is replaced so that queued task ids are collected instead of being
sent to Celery or the embedded thread pool; the test then runs them on its own thread
(inside its transaction) with the real ``task_execute``, in the order it chooses.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from agents_app.services.execution import RunOutcome, task_execute


class TaskQueue:
    def __init__(self, capture: Callable[..., AbstractContextManager[Any]]) -> None:
        self.pending: list[str] = []
        self.dispatched: list[str] = []
        self._capture = capture

    def dispatch(self, task: Any, *args: Any, **kwargs: Any) -> None:
        task_id = str(args[0])
        self.pending.append(task_id)
        self.dispatched.append(task_id)

    def run(self, task_id: str) -> RunOutcome:
        self.pending.remove(task_id)
        with self._capture(execute=True):
            return task_execute(task_id=task_id, worker="test-worker")

    def run_next(self) -> RunOutcome:
        return self.run(self.pending[0])

    def drain(self, limit: int = 100) -> list[RunOutcome]:
        outcomes = []
        while self.pending and limit:
            outcomes.append(self.run_next())
            limit -= 1
        return outcomes
