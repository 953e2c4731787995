"""PERF P5: tool-task throughput with 2 Celery workers, and enqueue-to-start latency.

Two real Celery worker processes (``celery -A devskyy.taskqueue worker``, production
environment: PostgreSQL, Redis broker) run ``low_stock_report`` tasks on the demo
shop (no LLM). The producer (a separate process, same environment) creates N tasks
through the service layer (``agents_app.services.tasks.task_create``: validation, the
row, the ``pending`` feed event, the enqueue after commit) from several threads at a
paced rate, then polls the database until every task is final. From the rows:

* throughput = N / (first ``created_at`` .. last ``finished_at``);
* enqueue-to-start = ``started_at - created_at`` per task (``created_at`` is taken
  before the row is written, so this slightly over-states the queue wait);
* CPU per task: the machine's busy time over the run (``/proc/stat``) / tasks, split
  into the workers, PostgreSQL, Redis and the producer. On a 2-core host 200 tasks/s
  needs it below ~10 ms. It moves less than tasks/s with background load, but still
  moves with the host's speed: compare figures from one sitting.

``--rate 0`` enqueues as fast as the producer threads can (the capacity); a paced
rate at or above the goal shows whether workers keep up without a queue building.

    .venv/bin/python -m bench.tasks_throughput [--tasks 1000] [--rate 250]
        [--pool threads] [--concurrency 2] [--prefetch 1]

Default worker set-up: 2 processes x ``--pool threads --concurrency 2``. A tool task
spends about half its time waiting for PostgreSQL, so two threads per process overlap
those waits; on 2 cores this beat ``solo`` and prefork with 2 or 4 children per
worker (bench/README.md). The thread pool cannot enforce Celery's time limits
(they need prefork's signals), so production keeps prefork; ``--pool prefork`` measures it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench.common import (
    BIN,
    PRODUCTION_ENV,
    ROOT,
    cpu_by_group,
    env_with,
    free_port,
    load_average,
    machine_busy_seconds,
    prepare_database,
    save,
    stop_group,
)

GOAL_RATE = 200.0
GOAL_START_P50_MS = 50.0
TOOL = ("commerce-001", "low_stock_report", {"threshold": 5})


@contextlib.contextmanager
def celery_workers(
    count: int, concurrency: int, pool: str, env: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes = []
    try:
        for _ in range(count):
            processes.append(
                subprocess.Popen(
                    [
                        str(BIN / "celery"),
                        "-A",
                        "devskyy.taskqueue",
                        "worker",
                        "--loglevel=WARNING",
                        f"--concurrency={concurrency}",
                        f"--pool={pool}",
                        f"--hostname=bench-{free_port()}@%h",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    cwd=ROOT,
                    env=env_with(env),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        yield processes
    finally:
        for process in processes:
            stop_group(process)


def wait_for_workers(count: int, env: dict[str, str], timeout: float = 60) -> None:
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = client.zcount("devskyy:workers", time.time(), "+inf")
        if alive >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"only {alive} of {count} workers came up")


# --- the producer (runs in its own process with Django set up) -------------------------
def produce(tasks: int, rate: float, threads: int, timeout: float) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import close_old_connections

    from agents_app.models import FINAL_STATUSES, AgentTask
    from agents_app.services.tasks import task_create

    user = get_user_model().objects.filter(username__startswith="bench-").order_by("-pk").first()
    slug, action, parameters = TOOL
    interval = threads / rate if rate > 0 else 0.0
    ids: list[str] = []
    lock = threading.Lock()
    counter = iter(range(tasks))

    def worker() -> None:
        next_at = time.monotonic()
        try:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                if interval:
                    next_at += interval
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                created = task_create(
                    agent_slug=slug,
                    action=action,
                    parameters=parameters,
                    user=user,
                )
                with lock:
                    ids.append(str(created.task.id))
        finally:
            close_old_connections()

    started = time.monotonic()
    cpu_started = time.process_time()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    enqueue_seconds = time.monotonic() - started
    producer_cpu = time.process_time() - cpu_started
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = AgentTask.objects.filter(pk__in=ids, status__in=FINAL_STATUSES).count()
        if done >= len(ids):
            break
        time.sleep(0.1)
    rows = list(AgentTask.objects.filter(pk__in=ids).values("status", "created_at", "started_at", "finished_at"))
    completed = [r for r in rows if r["status"] == "completed"]
    first = min(r["created_at"] for r in rows)
    last = max((r["finished_at"] for r in rows if r["finished_at"]), default=None)
    to_start = sorted((r["started_at"] - r["created_at"]).total_seconds() * 1000 for r in rows if r["started_at"])
    run_ms = sorted((r["finished_at"] - r["started_at"]).total_seconds() * 1000 for r in completed)
    elapsed = (last - first).total_seconds() if last else None

    def pct(values: list[float], share: float) -> float | None:
        return round(values[min(len(values) - 1, int(share * len(values)))], 1) if values else None

    return {
        "tasks": len(rows),
        "completed": len(completed),
        "statuses": {s: sum(1 for r in rows if r["status"] == s) for s in {r["status"] for r in rows}},
        "enqueue_seconds": round(enqueue_seconds, 3),
        "enqueue_rate": round(len(rows) / enqueue_seconds, 1),
        "elapsed_seconds": round(elapsed, 3) if elapsed else None,
        "throughput": round(len(completed) / elapsed, 1) if elapsed else None,
        "start_p50_ms": round(statistics.median(to_start), 1) if to_start else None,
        "start_p99_ms": pct(to_start, 0.99),
        "start_max_ms": round(to_start[-1], 1) if to_start else None,
        "run_p50_ms": round(statistics.median(run_ms), 1) if run_ms else None,
        "producer_cpu_ms_per_task": round(producer_cpu / len(rows) * 1000, 3) if rows else None,
    }


# --- the benchmark ---------------------------------------------------------------------
def run(
    tasks: int, rate: float, threads: int, concurrency: int, pool: str, prefetch: int, name: str = ""
) -> dict[str, Any]:
    prepare_database()
    subprocess.run(
        [str(BIN / "python"), "-m", "bench.fixtures", "credentials"],
        cwd=ROOT,
        env=env_with(PRODUCTION_ENV),
        check=True,
        capture_output=True,
    )
    env = {**PRODUCTION_ENV, "CELERY_WORKER_PREFETCH_MULTIPLIER": str(prefetch), "WORKER_HEARTBEAT_SECONDS": "1"}
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).delete("celery", "unacked", "unacked_index", "devskyy:workers")
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "workers": 2,
        "concurrency": concurrency,
        "pool": pool,
        "prefetch_multiplier": prefetch,
        "rate": rate,
        "producer_threads": threads,
        "load_before": load_average(),
    }
    label = f"{rate:.0f}/s paced" if rate > 0 else "as fast as the producer can"
    print(
        f"== PERF P5: {tasks} x {TOOL[1]}, 2 workers x --concurrency={concurrency} --pool={pool} "
        f"(prefetch {prefetch}), enqueued {label} from {threads} threads"
    )
    with celery_workers(2, concurrency, pool, env) as processes:
        wait_for_workers(2, env)
        pgids = {process.pid for process in processes}  # each worker leads its own session
        groups_before, busy_before = cpu_by_group(pgids), machine_busy_seconds()
        out = subprocess.run(
            [
                str(BIN / "python"),
                "-m",
                "bench.tasks_throughput",
                "--produce",
                "--tasks",
                str(tasks),
                "--rate",
                str(rate),
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            env=env_with(env),
            capture_output=True,
            text=True,
            check=False,
        )
        busy = machine_busy_seconds() - busy_before
        groups_after = cpu_by_group(pgids)
    if out.returncode:
        raise RuntimeError(f"producer failed: {out.stderr[-3000:]}")
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    results.update(measured)
    done = max(1, measured["completed"])
    cpu = {name: round((groups_after[name] - groups_before[name]) / done * 1000, 3) for name in groups_after}
    cpu["producer"] = measured["producer_cpu_ms_per_task"]
    cpu["machine"] = round(busy / done * 1000, 3)
    results["cpu_ms_per_task"] = cpu
    results["load_after"] = load_average()
    print(
        f"enqueued {measured['tasks']} in {measured['enqueue_seconds']}s ({measured['enqueue_rate']}/s); "
        f"completed {measured['completed']} {measured['statuses']}"
    )
    print(
        f"P5: throughput {measured['throughput']} tasks/s (goal >= {GOAL_RATE:.0f}); enqueue-to-start p50 "
        f"{measured['start_p50_ms']} ms (goal <= {GOAL_START_P50_MS:.0f}), p99 {measured['start_p99_ms']} ms, "
        f"max {measured['start_max_ms']} ms; run time p50 {measured['run_p50_ms']} ms"
    )
    print(
        f"CPU per task (from the first enqueue to the last finish): machine {cpu['machine']} ms; workers "
        f"{cpu['workers']}, PostgreSQL {cpu['postgresql']} (sessions still open), Redis {cpu['redis']}, "
        f"producer {cpu['producer']} (while enqueuing)"
    )
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    save(f"tasks_throughput_{name or ('burst' if rate <= 0 else 'paced')}", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=250.0, help="tasks/s to enqueue; 0 = as fast as possible")
    parser.add_argument("--threads", type=int, default=4, help="producer threads")
    parser.add_argument("--concurrency", type=int, default=2, help="per worker process")
    parser.add_argument("--pool", default="threads", choices=["prefork", "threads", "solo"])
    parser.add_argument("--prefetch", type=int, default=1, help="CELERY_WORKER_PREFETCH_MULTIPLIER")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--name", default="", help="results file suffix (default: burst or paced)")
    parser.add_argument("--produce", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        print(json.dumps(produce(args.tasks, args.rate, args.threads, args.timeout)))
        return
    run(args.tasks, args.rate, args.threads, args.concurrency, args.pool, args.prefetch, args.name)
    sys.exit(0)


if __name__ == "__main__":
    main()
