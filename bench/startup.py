"""PERF P7: how soon a started worker serves its first request (goal <= 3 s).

Three measures, each repeated ``--rounds`` times (median and max printed):

* **web, cold**: ``gunicorn -c gunicorn.conf.py`` (production environment, 1 uvicorn
  worker) from process spawn to the first 200 on ``/live`` and on the authenticated
  ``/api/v1/agents`` (which also renders the list: a real first request). Includes the
  master's own start, so it is an upper bound on the worker's.
* **web, replaced worker**: the running worker is killed (SIGKILL, as after an OOM
  kill) and the time from the kill to the next 200 is the master's replacement worker
  starting and answering (the only worker, so any answer is the new worker's).
* **task worker**: a ``low_stock_report`` task is queued, then ``celery -A
  devskyy.taskqueue worker --concurrency=2`` (production's command) is spawned; the
  time from spawn to the task's ``started_at`` / ``finished_at`` (written by the worker).
* **import**: ``django.setup()`` + the ASGI app + the URL conf in a fresh interpreter,
  the part of every start-up that is this project's code and its imports.

Clients poll every 20 ms, so figures carry up to 20 ms of polling granularity.

    .venv/bin/python -m bench.startup [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import time
from typing import Any

import httpx

from bench.common import (
    BIN,
    PRODUCTION_ENV,
    ROOT,
    django_json,
    env_with,
    free_port,
    load_average,
    prepare_database,
    save,
    stop_group,
)
from bench.memory import children
from bench.tasks_throughput import celery_workers

GOAL_SECONDS = 3.0
POLL = 0.02


def _until_ok(url: str, headers: dict[str, str], started: float, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers={"X-Forwarded-Proto": "https", **headers}, timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(POLL)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def web_round(creds: dict[str, Any]) -> dict[str, float]:
    port = free_port()
    env = env_with({**PRODUCTION_ENV, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"})
    base = f"http://127.0.0.1:{port}"
    key = {"X-API-Key": str(creds["api_key"])}
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        live = _until_ok(base + "/live", {}, started)
        agents = _until_ok(base + "/api/v1/agents", key, started)
        (worker,) = children(process.pid)
        killed = time.monotonic()
        os.kill(worker, signal.SIGKILL)
        # The master notices the dead worker and forks a new one; wait for the old
        # pid to be gone so a late answer of the killed worker cannot be counted.
        while worker in children(process.pid):
            time.sleep(0.005)
        replaced_agents = _until_ok(base + "/api/v1/agents", key, killed)
    finally:
        stop_group(process)
    return {"live_s": live, "agents_s": agents, "replaced_agents_s": replaced_agents}


def task_round() -> dict[str, float]:
    queued = django_json(["enqueue"])
    started = time.time()
    with celery_workers(1, 2, "prefork", PRODUCTION_ENV):
        deadline = time.monotonic() + 60
        row: dict[str, Any] = {}
        while time.monotonic() < deadline:
            row = django_json(["task", str(queued["id"])])
            if row["finished_at"]:
                break
            time.sleep(0.5)
    if not row.get("finished_at"):
        raise RuntimeError(f"the queued task did not finish: {row}")
    return {"task_started_s": row["started_at"] - started, "task_finished_s": row["finished_at"] - started}


def import_round() -> float:
    code = (
        "import django; django.setup(); import devskyy.asgi; "
        "from django.urls import get_resolver; get_resolver().url_patterns"
    )
    started = time.monotonic()
    subprocess.run(
        [str(BIN / "python"), "-c", code],
        cwd=ROOT,
        env=env_with({**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "devskyy.settings"}),
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def run(rounds: int) -> dict[str, Any]:
    prepare_database()
    creds = django_json(["credentials"])
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "rounds": rounds,
        "load_before": load_average(),
    }
    print(f"== PERF P7 start-up, {rounds} rounds (goal: first request served <= {GOAL_SECONDS:.0f} s after start)")
    samples: dict[str, list[float]] = {}
    for round_no in range(1, rounds + 1):
        measured = {**web_round(creds), **task_round(), "import_s": import_round()}
        for name, value in measured.items():
            samples.setdefault(name, []).append(round(value, 3))
        print(f"round {round_no}: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()))
    labels = {
        "live_s": "web cold start -> first /live 200",
        "agents_s": "web cold start -> first /api/v1/agents 200",
        "replaced_agents_s": "worker killed -> replacement's first /api/v1/agents 200",
        "task_started_s": "task worker spawn -> queued task started",
        "task_finished_s": "task worker spawn -> queued task finished",
        "import_s": "django.setup + ASGI app + URL conf (fresh interpreter)",
    }
    summary = {}
    for name, values in samples.items():
        summary[name] = {"median": round(statistics.median(values), 3), "max": max(values), "samples": values}
        print(f"  {labels[name]:<58} median {summary[name]['median']:.2f} s, max {max(values):.2f} s")
    results["figures"] = summary
    worst = max(summary[k]["max"] for k in ("agents_s", "replaced_agents_s", "task_finished_s"))
    results["worst_first_request_s"] = worst
    results["load_after"] = load_average()
    print(
        f"P7: slowest first request after a start {worst:.2f} s over {rounds} rounds (goal <= {GOAL_SECONDS:.0f} s); "
        f"load average before {results['load_before']}, after {results['load_after']}"
    )
    save("startup", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.rounds)


if __name__ == "__main__":
    main()
