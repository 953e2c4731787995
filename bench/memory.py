"""PERF P6: memory of the web and task workers after real traffic.

1. One web worker (``gunicorn -c gunicorn.conf.py``, production environment, 1 uvicorn
   worker) serves 10,000 requests mixed like a dashboard's traffic: the agents list
   (API key), the task list (JWT), the product list, ``/health`` and ``/live``. The
   worker's resident memory is read from ``/proc`` at its first answer and every
   2,000 requests, so growth (a leak) shows as a curve, not one figure.
2. The production shape: 2 web workers + 1 Celery worker (``--concurrency=2``, the
   prefork pool: a parent and 2 children, as in render.yaml) while the web serves
   10,000 requests and the task worker runs 500 tool tasks created through the API.
   Every process's RSS is summed (the conservative figure: pages shared between a
   parent and its forked children count once per process); PSS (shared pages
   divided among the processes sharing them) is printed beside it.

Goal: one web worker <= 150 MB RSS after 10,000 requests; 2 web workers + 1 task
worker <= 450 MB.

    .venv/bin/python -m bench.memory [--requests 10000] [--tasks 500]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import platform
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.agents_list import UNTHROTTLED
from bench.common import PRODUCTION_ENV, django_json, gunicorn, load_average, prepare_database, save
from bench.tasks_throughput import celery_workers, wait_for_workers

GOAL_ONE_WORKER_MB = 150.0
GOAL_TOTAL_MB = 450.0


def _status_kb(pid: int, field: str) -> int:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def tree(pid: int) -> list[int]:
    pids = [pid]
    for child in children(pid):
        pids += tree(child)
    return pids


def memory(pids: list[int]) -> dict[str, float]:
    return {
        "rss_mb": round(sum(_status_kb(p, "VmRSS") for p in pids) / 1024, 1),
        "pss_mb": round(sum(_pss_kb(p) for p in pids) / 1024, 1),
        "processes": len(pids),
    }


def traffic(base: str, creds: dict[str, Any], requests: int, threads: int = 4) -> dict[str, int]:
    """``requests`` GETs spread over the dashboard's endpoints; counts by status class."""
    key = {"X-API-Key": str(creds["api_key"])}
    jwt = {"Authorization": f"Bearer {creds['jwt']}"}
    mix = itertools.cycle(
        [
            ("/api/v1/agents", key),
            ("/api/v1/tasks?limit=20", jwt),
            ("/api/v1/agents", jwt),
            ("/api/v1/commerce/products?limit=20", key),
            ("/health", {}),
            ("/live", {}),
        ]
    )
    lock = threading.Lock()
    counts: dict[str, int] = {}
    remaining = iter(range(requests))

    def run() -> None:
        with httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https"}, timeout=30) as client:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                    path, headers = next(mix)
                status = client.get(path, headers=headers).status_code
                with lock:
                    counts[f"{status // 100}xx"] = counts.get(f"{status // 100}xx", 0) + 1

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return counts


def create_tasks(base: str, creds: dict[str, Any], count: int) -> int:
    created = 0
    with httpx.Client(
        base_url=base,
        # A JWT user: POST /api/v1/tasks with an API key answers 500 (APIKeyPrincipal has
        # no pk; reported in bench/README.md, owned by the tasks API).
        headers={"X-Forwarded-Proto": "https", "Authorization": f"Bearer {creds['jwt']}"},
        timeout=30,
    ) as client:
        for _ in range(count):
            response = client.post(
                "/api/v1/tasks",
                json={"agent_id": "commerce-001", "action": "low_stock_report", "parameters": {"threshold": 5}},
            )
            if response.status_code != 202:
                raise RuntimeError(f"task create answered {response.status_code}: {response.text[:300]}")
            created += 1
    return created


def wait_for_tasks(env: dict[str, str], since: str, timeout: float = 120) -> int:
    """Tasks created since ``since`` still unfinished when the queue drained or time ran out."""
    deadline = time.monotonic() + timeout
    left = 0
    while time.monotonic() < deadline:
        left = int(str(django_json(["unfinished", since], env)["unfinished"]))
        if not left:
            return 0
        time.sleep(1)
    return left


def run(requests: int, tasks: int) -> dict[str, Any]:
    prepare_database()
    creds = django_json(["credentials"])
    env = {**PRODUCTION_ENV, **UNTHROTTLED}
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "requests": requests,
        "tasks": tasks,
        "load_before": load_average(),
    }
    print(f"== PERF P6 memory: {requests} requests on 1 web worker; then 2 web + 1 task worker, {tasks} tasks")

    with gunicorn(env, workers=1) as server:
        (worker,) = children(server.process.pid)
        curve = [{"requests": 0, **memory([worker])}]
        step = max(1, requests // 5)
        done = 0
        statuses: dict[str, int] = {}
        while done < requests:
            batch = min(step, requests - done)
            for k, v in traffic(server.url, creds, batch).items():
                statuses[k] = statuses.get(k, 0) + v
            done += batch
            curve.append({"requests": done, **memory([worker])})
            print(
                f"  one worker after {done:>6} requests: RSS {curve[-1]['rss_mb']:6.1f} MB, PSS {curve[-1]['pss_mb']:6.1f} MB"
            )
        master = memory([server.process.pid])
    one = curve[-1]["rss_mb"]
    results["one_worker"] = {"curve": curve, "statuses": statuses, "master": master, "rss_mb": one}
    print(
        f"P6 one web worker: {one:.1f} MB RSS after {requests} requests (goal <= {GOAL_ONE_WORKER_MB:.0f}); "
        f"started at {curve[0]['rss_mb']:.1f} MB; statuses {statuses}; gunicorn master {master['rss_mb']} MB"
    )

    with gunicorn(env, workers=2) as server, celery_workers(1, 2, "prefork", env) as (celery,):
        wait_for_workers(1, env)
        since = datetime.now(UTC).isoformat()
        producer = threading.Thread(
            target=lambda: results.__setitem__("tasks_created", create_tasks(server.url, creds, tasks))
        )
        producer.start()
        statuses = traffic(server.url, creds, requests)
        producer.join()
        left = wait_for_tasks(env, since)
        web = memory(tree(server.process.pid))
        task_worker = memory(tree(celery.pid))
    total = round(web["rss_mb"] + task_worker["rss_mb"], 1)
    total_pss = round(web["pss_mb"] + task_worker["pss_mb"], 1)
    results["production_shape"] = {
        "web": web,
        "task_worker": task_worker,
        "statuses": statuses,
        "tasks_unfinished": left,
        "rss_mb": total,
        "pss_mb": total_pss,
    }
    print(
        f"P6 2 web workers + 1 task worker: {total:.1f} MB RSS summed, {total_pss:.1f} MB PSS (goal <= {GOAL_TOTAL_MB:.0f}); "
        f"web (master + 2 workers) {web['rss_mb']} MB, Celery (parent + 2 children) {task_worker['rss_mb']} MB; "
        f"{results.get('tasks_created')} tasks created, {left} unfinished; statuses {statuses}"
    )
    results["load_after"] = load_average()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    save("memory", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=500)
    args = parser.parse_args()
    run(args.requests, args.tasks)


if __name__ == "__main__":
    main()
