"""PERF P4: WebSocket fan-out to 1,000 authenticated ``/ws/agents`` clients on one web process.

One DevSkyy web process (``gunicorn -c gunicorn.conf.py`` with WEB_CONCURRENCY=1 and
the uvicorn worker, production environment: PostgreSQL, Redis channel layer). The
client (asyncio + websockets on uvloop, in this process) opens N sockets with a JWT
in the ``["bearer", <token>]`` subprotocol, offering permessage-deflate as browsers
do, and waits for each ``connected`` message: connect rate = N / time to open all.
Another process then publishes K ``agent_status_update`` events through the real path
(``devskyy.core.events.deliver``: stored, then broadcast), ``--gap`` seconds apart;
each carries the wall-clock time taken just before ``deliver`` was called, and each
socket records when it received it (same machine, same clock). Reported: latency
p50/p99/max over every delivery, the delivery ratio, and per event the share of
clients reached within 100 ms (the goal: 99% within 100 ms).

The client runs on the same 2 cores as the server; its own receive loop is part of
every measured latency (it reads 1,000 frames one after another), so the figures
are an upper bound on the server's share.

    .venv/bin/python -m bench.ws_fanout [--clients 1000] [--events 20] [--gap 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.common import (
    BIN,
    PRODUCTION_ENV,
    ROOT,
    django_json,
    env_with,
    gunicorn,
    load_average,
    prepare_database,
    save,
)

GOAL_WITHIN_MS = 100.0
GOAL_SHARE = 0.99
GOAL_CONNECT_RATE = 200.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def fan_out(url: str, token: str, clients: int, events: int, gap: float, concurrency: int) -> dict[str, Any]:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.typing import Subprotocol

    semaphore = asyncio.Semaphore(concurrency)
    protocols = [Subprotocol("bearer"), Subprotocol(token)]

    async def open_one() -> ClientConnection:
        async with semaphore:
            ws = await connect(url, subprotocols=protocols, open_timeout=60, ping_interval=None, max_queue=None)
            hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if hello.get("type") != "connected":
                raise RuntimeError(f"unexpected first message {hello}")
            return ws

    started = time.perf_counter()
    opened = await asyncio.gather(*(open_one() for _ in range(clients)), return_exceptions=True)
    connect_seconds = time.perf_counter() - started
    sockets = [ws for ws in opened if not isinstance(ws, BaseException)]
    failures = [repr(ws) for ws in opened if isinstance(ws, BaseException)]

    latencies: dict[int, list[float]] = {i: [] for i in range(events)}

    async def read(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                data = message.get("data") or {}
                if message.get("type") == "agent_status_update" and "sent" in data:
                    latencies[int(data["bench"])].append((now - float(data["sent"])) * 1000)

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    publisher = await asyncio.create_subprocess_exec(
        str(BIN / "python"),
        "-m",
        "bench.fixtures",
        "publish",
        str(events),
        str(gap),
        cwd=ROOT,
        env=env_with(PRODUCTION_ENV),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, stderr = await publisher.communicate()
    if publisher.returncode:
        raise RuntimeError(f"publisher failed: {stderr.decode()[-2000:]}")
    await asyncio.sleep(2.0)  # stragglers
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    everything = [value for values in latencies.values() for value in values]
    per_event_share = [
        sum(1 for v in values if v <= GOAL_WITHIN_MS) / max(1, len(sockets)) for values in latencies.values()
    ]
    per_event_p99 = [percentile(values, 0.99) for values in latencies.values() if values]
    return {
        "clients": clients,
        "connected": len(sockets),
        "connect_failures": len(failures),
        "connect_failure_examples": failures[:3],
        "connect_seconds": round(connect_seconds, 3),
        "connect_rate": round(len(sockets) / connect_seconds, 1),
        "events": events,
        "deliveries": len(everything),
        "delivery_ratio": round(len(everything) / max(1, len(sockets) * events), 4),
        "p50_ms": round(statistics.median(everything), 1) if everything else None,
        "p99_ms": round(percentile(everything, 0.99), 1) if everything else None,
        "max_ms": round(max(everything), 1) if everything else None,
        "per_event_p99_ms_median": round(statistics.median(per_event_p99), 1) if per_event_p99 else None,
        "per_event_share_within_100ms": [round(share, 4) for share in per_event_share],
        "events_meeting_goal": sum(1 for share in per_event_share if share >= GOAL_SHARE),
    }


def run(clients: int, events: int, gap: float, concurrency: int, env_overrides: dict[str, str]) -> dict[str, Any]:
    limit = raise_fd_limit()
    prepare_database()
    creds = django_json(["credentials"])
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "fd_limit": limit,
        "load_before": load_average(),
        "server_env": env_overrides,
    }
    print(f"== PERF P4 fan-out: {clients} clients on one web process, {events} events {gap}s apart")
    with gunicorn({**PRODUCTION_ENV, **env_overrides}, workers=1) as server:
        url = server.url.replace("http://", "ws://") + "/ws/agents"
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
            runner = asyncio.run
        measured = runner(fan_out(url, str(creds["jwt"]), clients, events, gap, concurrency))
        results["server_rss_mb"] = round(server.rss_mb(), 1)
    results.update(measured)
    results["load_after"] = load_average()
    print(
        f"connect: {measured['connected']}/{clients} in {measured['connect_seconds']:.2f}s = "
        f"{measured['connect_rate']:.0f}/s (goal >= {GOAL_CONNECT_RATE:.0f}/s); failures {measured['connect_failures']}"
    )
    print(
        f"delivery: ratio {measured['delivery_ratio']:.4f}, latency p50 {measured['p50_ms']} ms, "
        f"p99 {measured['p99_ms']} ms, max {measured['max_ms']} ms; per-event p99 (median over events) "
        f"{measured['per_event_p99_ms_median']} ms"
    )
    print(
        f"P4: {measured['events_meeting_goal']}/{events} events reached >= 99% of clients within 100 ms; "
        f"server RSS {results['server_rss_mb']} MB"
    )
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    save("ws_fanout", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between published events")
    parser.add_argument("--concurrency", type=int, default=100, help="connects in flight at once")
    parser.add_argument("--env", action="append", default=[], help="extra server setting NAME=VALUE")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.env)
    run(args.clients, args.events, args.gap, args.concurrency, overrides)
    sys.exit(0)


if __name__ == "__main__":
    main()
