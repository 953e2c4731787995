"""Not a goal: what one tool task costs PostgreSQL, statement by statement.

Creates and runs N ``low_stock_report`` tasks in one process through the production
services (``task_create``, then ``task_execute`` as a worker would, no Celery) on the
benchmark database, one connection, one thread. For each statement it records how often
it ran per task, the CPU its PostgreSQL backend spent on it (``/proc/<pid>/schedstat``,
nanoseconds, so the commit's WAL flush is in it) and its wall time at the client. The
queue messages the creations send are deleted afterwards (no worker consumes them).

    .venv/bin/python -m bench.task_statements [--tasks 300]

Runs on this machine's PostgreSQL (the backend's /proc entry is read directly).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

from bench.common import BIN, PRODUCTION_ENV, ROOT, django_json, env_with, prepare_database, save


def child(tasks: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")
    import django

    django.setup()
    import redis
    from django.contrib.auth import get_user_model
    from django.db import connection

    from agents_app.services.execution import task_execute
    from agents_app.services.tasks import task_create

    user = get_user_model().objects.filter(username__startswith="bench-").order_by("-pk").first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def backend_ns() -> int:
        with open(f"/proc/{backend}/schedstat") as stat:
            return int(stat.read().split()[0])

    stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0.0])
    measuring = False

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not measuring:
            return execute(sql, params, many, context)
        cpu, wall = backend_ns(), time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            row = stats[re.sub(r"\s+", " ", sql.strip())[:100]]
            row[0] += 1
            row[1] += backend_ns() - cpu
            row[2] += time.perf_counter() - wall

    def run() -> None:
        ids = [
            str(
                task_create(
                    agent_slug="commerce-001", action="low_stock_report", parameters={"threshold": 5}, user=user
                ).task.id
            )
            for _ in range(tasks)
        ]
        for task_id in ids:
            task_execute(task_id=task_id, worker="bench-statements")

    with connection.execute_wrapper(wrapper):
        run()  # warm-up: imports, kept copies, plans
        measuring = True
        started = backend_ns()
        run()
        total = backend_ns() - started
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete("celery")
    return {
        "tasks": tasks,
        "backend_cpu_us_per_task": round(total / tasks / 1000, 1),
        "statements": [
            {
                "sql": sql,
                "per_task": round(n / tasks, 2),
                "backend_cpu_us_per_task": round(cpu / tasks / 1000, 1),
                "wall_us_per_task": round(wall / tasks * 1e6, 1),
            }
            for sql, (n, cpu, wall) in sorted(stats.items(), key=lambda item: -item[1][1])
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tasks)))
        return
    prepare_database()
    django_json(["credentials"])  # the bench user the tasks are created for
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.task_statements", "--child", "--tasks", str(args.tasks)],
        cwd=ROOT,
        env=env_with(PRODUCTION_ENV),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"== PostgreSQL per tool task ({args.tasks} tasks, one connection): backend CPU "
        f"{result['backend_cpu_us_per_task']} us per task"
    )
    print("  per task  backend CPU us  wall us  statement")
    for row in result["statements"]:
        print(
            f"  {row['per_task']:8.1f}  {row['backend_cpu_us_per_task']:14.1f}  {row['wall_us_per_task']:7.1f}  {row['sql']}"
        )
    save("task_statements", result)


if __name__ == "__main__":
    main()
