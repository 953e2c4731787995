"""PERF P2 (/health) and P3 (/live vs a bare Django /live), plus the serving and
database-connection choices they depend on. Prints what it measured; exits 0.

    .venv/bin/python -m bench.probes [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx

from bench.common import PRODUCTION_ENV, PROXY_HEADERS, gunicorn, prepare_database, save, wrk


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung dependency)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def sequential_latencies(url: str, count: int) -> list[float]:
    timings = []
    with httpx.Client(headers={"X-Forwarded-Proto": "https"}, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds for the P3 ratio")
    args = parser.parse_args()
    seconds = args.seconds
    rounds = args.rounds
    prepare_database()
    results: dict[str, object] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "seconds": seconds,
    }
    print(f"== PERF P2/P3 on {results['machine']}, wrk {seconds}s per run")

    def measure(label: str, url: str, connections: int) -> dict[str, float]:
        result = wrk(url, connections=connections, seconds=seconds, headers=PROXY_HEADERS)
        print(f"{label:<58} {result.row()}")
        return result.__dict__

    live: dict[str, object] = {}
    for worker_class, http_mode in (("uvicorn", "wsgi"), ("uvicorn", "asgi"), ("gthread", "wsgi")):
        env = {**PRODUCTION_ENV, "ASGI_HTTP_MODE": http_mode}
        label = f"{worker_class}+{http_mode}" if worker_class == "uvicorn" else "gthread (WSGI, no WebSockets)"
        with gunicorn(env, worker_class=worker_class) as server:
            live[f"devskyy {label}"] = measure(f"/live DevSkyy, {label}, c50", server.url + "/live", 50)
        bare_app = "bench.bare.asgi:application" if worker_class == "uvicorn" else "bench.bare.wsgi:application"
        if http_mode == "wsgi":
            with gunicorn(
                {"DJANGO_SETTINGS_MODULE": "bench.bare.settings", "GUNICORN_ACCESS_LOG": "/dev/null"},
                app=bare_app,
                worker_class=worker_class,
            ) as server:
                live[f"bare {label}"] = measure(f"/live bare Django, {label}, c50", server.url + "/live", 50)
    results["live"] = live
    # P3 itself: the servers up together, measured in alternation (a change of background
    # load hits every side of the ratio alike); the median of the per-round ratios. The
    # production set-up serves /live through the probes' middleware (devskyy/core/stacks.py);
    # MIDDLEWARE_BY_ROUTE=false puts it through every layer of MIDDLEWARE, measured beside it.
    ratios: list[float] = []
    full_ratios: list[float] = []
    bare_env = {"DJANGO_SETTINGS_MODULE": "bench.bare.settings", "GUNICORN_ACCESS_LOG": "/dev/null"}
    full_env = {**PRODUCTION_ENV, "MIDDLEWARE_BY_ROUTE": "false"}
    with (
        gunicorn(PRODUCTION_ENV) as server,
        gunicorn(full_env) as full_server,
        gunicorn(bare_env, app="bench.bare.asgi:application") as bare_server,
    ):
        for round_no in range(1, rounds + 1):
            run = measure(f"round {round_no} /live DevSkyy (production set-up)", server.url + "/live", 50)
            full_run = measure(f"round {round_no} /live every middleware layer", full_server.url + "/live", 50)
            bare_run = measure(f"round {round_no} /live bare Django, same front", bare_server.url + "/live", 50)
            ratios.append(run["requests_per_second"] / bare_run["requests_per_second"])
            full_ratios.append(full_run["requests_per_second"] / bare_run["requests_per_second"])
    results["P3_ratios"] = [round(r, 3) for r in ratios]
    results["P3_ratio"] = round(sorted(ratios)[len(ratios) // 2], 3)
    results["P3_full_stack_ratios"] = [round(r, 3) for r in full_ratios]
    results["P3_full_stack_ratio"] = round(sorted(full_ratios)[len(full_ratios) // 2], 3)
    print(
        f"P3: DevSkyy /live / bare /live, median of {rounds} alternating rounds = {results['P3_ratio']:.2f} "
        f"(goal >= 0.5); through every middleware layer {results['P3_full_stack_ratio']:.2f}"
    )

    health: dict[str, object] = {}
    for mode in ("persistent", "pool"):
        env = {**PRODUCTION_ENV, "DB_CONNECTION_MODE": mode}
        with gunicorn(env) as server:
            health[mode] = measure(f"/health, DB_CONNECTION_MODE={mode}, c10", server.url + "/health", 10)
    results["health"] = health
    p2 = health["persistent"]
    print(f"P2: /health p50 {p2['p50_ms']:.2f} ms (goal <= 5), p99 {p2['p99_ms']:.2f} ms (goal <= 20)")  # type: ignore[index]

    hung: dict[str, object] = {}
    for dependency in ("REDIS_URL", "DATABASE_URL"):
        with black_hole() as port:
            target = (
                f"redis://127.0.0.1:{port}/0"
                if dependency == "REDIS_URL"
                else f"postgres://postgres@127.0.0.1:{port}/x"
            )
            env = {**PRODUCTION_ENV, dependency: target}
            with gunicorn(env, workers=1) as server:
                timings = sequential_latencies(server.url + "/health", 20)
        hung[dependency] = {"max_ms": round(max(timings), 1), "median_ms": round(statistics.median(timings), 1)}
        print(
            f"/health with a hung {dependency.split('_')[0].lower()}: max {max(timings):.0f} ms, median {statistics.median(timings):.0f} ms over 20 requests (goal: never > 1000 ms)"
        )
    results["hung_dependency"] = hung
    path = save("probes", results)
    print(f"saved {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
