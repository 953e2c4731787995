"""PERF P1: ``GET /api/v1/agents`` authenticated, production middleware, vs the FastAPI stack.

DevSkyy runs as in production (``gunicorn -c gunicorn.conf.py``, 2 uvicorn workers,
the API's middleware (devskyy/core/stacks.py): request id, metrics, request figures,
CORS, security, sessions, auth, rate limiting, axes) and answers an authenticated list of the 54 agents with their task
statistics. The comparison point is the old service's stack (bench/fastapi_baseline:
FastAPI + asyncpg, 2 workers, no auth, no middleware, no statistics) serving the same
54 rows, measured in the same run. Load: ``wrk -t2 -c50``.

The rate limiter stays on (one Redis round trip per request, as in production), with
RATE_LIMIT_PER_MINUTE / RATE_LIMIT_PER_HOUR raised so that the run is never
throttled (every response is checked: non-2xx would show in the table).

Each run also prints the CPU it cost per request (``/proc``, over the measured run
only): the server's processes, Redis, PostgreSQL and the whole machine (wrk included).
Throughput moves with the host; CPU per request shows where a change went.

    .venv/bin/python -m bench.agents_list [--seconds 10] [--tasks 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform

import httpx

from bench.common import (
    PRODUCTION_ENV,
    PROXY_HEADERS,
    WrkResult,
    cpu_by_group,
    django_json,
    fastapi_baseline,
    gunicorn,
    load_average,
    machine_busy_seconds,
    prepare_database,
    save,
    wrk,
)

# High enough that 2 x c50 for minutes never reaches them; the limiter still runs.
UNTHROTTLED = {"RATE_LIMIT_PER_MINUTE": "100000000", "RATE_LIMIT_PER_HOUR": "1000000000"}
GOAL_RATIO = 1.5
GOAL_P99_MS = 50.0


def check(url: str, headers: dict[str, str]) -> int:
    response = httpx.get(url, headers={"X-Forwarded-Proto": "https", **headers}, timeout=10)
    response.raise_for_status()
    return len(response.json())


def measured(url: str, headers: list[str], seconds: int, server_pgid: int) -> tuple[WrkResult, dict[str, float]]:
    """One wrk run (after its warm-up) and its CPU per request in microseconds."""
    wrk(url, connections=50, seconds=1, headers=headers, warmup_seconds=0)  # warm-up, not counted
    before, busy = cpu_by_group({server_pgid}), machine_busy_seconds()
    result = wrk(url, connections=50, seconds=seconds, headers=headers, warmup_seconds=0)
    busy, after = machine_busy_seconds() - busy, cpu_by_group({server_pgid})
    requests = max(1.0, result.requests_per_second * seconds)
    cpu = {name: round((after[name] - before[name]) / requests * 1e6) for name in after}
    cpu["machine"] = round(busy / requests * 1e6)
    return result, cpu


def _median(results: list[WrkResult]) -> WrkResult:
    """The run with the median throughput (its latencies belong to the same run)."""
    return sorted(results, key=lambda r: r.requests_per_second)[len(results) // 2]


def run(seconds: int, tasks: int, rounds: int) -> dict[str, object]:
    prepare_database()
    history = django_json(["tasks", str(tasks)])
    creds = django_json(["credentials"])
    results: dict[str, object] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "seconds": seconds,
        "rounds": rounds,
        "tasks_in_db": history["tasks"],
        "load_before": load_average(),
    }
    print(
        f"== PERF P1 /api/v1/agents, wrk -t2 -c50, {rounds} rounds of {seconds}s per setup, "
        f"{history['tasks']} tasks in the database"
    )
    env = {**PRODUCTION_ENV, **UNTHROTTLED}
    setups: dict[str, tuple[str, list[str], int]] = {}
    runs: dict[str, list[WrkResult]] = {}
    cpu_runs: dict[str, list[dict[str, float]]] = {}
    # Both servers run for the whole benchmark and are measured in alternation, so a
    # change of background load hits both sides of the ratio alike.
    with fastapi_baseline() as baseline, gunicorn(env) as devskyy:
        rows = check(baseline.url + "/api/v1/agents", {})
        agents = check(devskyy.url + "/api/v1/agents", {"X-API-Key": str(creds["api_key"])})
        check(devskyy.url + "/api/v1/agents", {"Authorization": f"Bearer {creds['jwt']}"})
        # Both servers run in sessions of their own: the process group is the server.
        setups[f"FastAPI + asyncpg ({rows} rows, no auth)"] = (baseline.url, [], baseline.process.pid)
        setups[f"DevSkyy, API key ({agents} agents + stats)"] = (
            devskyy.url,
            [*PROXY_HEADERS, "-H", f"X-API-Key: {creds['api_key']}"],
            devskyy.process.pid,
        )
        setups["DevSkyy, JWT bearer"] = (
            devskyy.url,
            [*PROXY_HEADERS, "-H", f"Authorization: Bearer {creds['jwt']}"],
            devskyy.process.pid,
        )
        for round_no in range(1, rounds + 1):
            for label, (url, headers, pgid) in setups.items():
                result, cpu = measured(url + "/api/v1/agents", headers, seconds, pgid)
                runs.setdefault(label, []).append(result)
                cpu_runs.setdefault(label, []).append(cpu)
                print(
                    f"round {round_no}  {label:<46} {result.row()}  CPU/request: server {cpu['workers']:.0f} us, "
                    f"Redis {cpu['redis']:.0f}, PostgreSQL {cpu['postgresql']:.0f}, machine {cpu['machine']:.0f}"
                )
    medians = {label: _median(items) for label, items in runs.items()}
    baseline_label, key_label, jwt_label = list(setups)
    print("median of the rounds:")
    for label, result in medians.items():
        print(f"  {label:<52} {result.row()}")
    results["runs"] = {label: [r.__dict__ for r in items] for label, items in runs.items()}
    results["cpu_us_per_request"] = cpu_runs
    results["fastapi"] = medians[baseline_label].__dict__
    results["devskyy_api_key"] = medians[key_label].__dict__
    results["devskyy_jwt"] = medians[jwt_label].__dict__
    for label, name in ((key_label, "api_key"), (jwt_label, "jwt")):
        ratios = sorted(
            r.requests_per_second / b.requests_per_second
            for r, b in zip(runs[label], runs[baseline_label], strict=True)
        )
        ratio = ratios[len(ratios) // 2]
        results[f"P1_ratio_{name}"] = round(ratio, 3)
        print(
            f"P1 ({name}): {ratio:.2f}x FastAPI, median of per-round ratios (goal >= {GOAL_RATIO}); "
            f"p99 {medians[label].p99_ms:.1f} ms (goal <= {GOAL_P99_MS:.0f})"
        )
    results["load_after"] = load_average()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    save("agents_list", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=10_000, help="finished tasks in the database (history)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    args = parser.parse_args()
    run(args.seconds, args.tasks, args.rounds)


if __name__ == "__main__":
    main()
