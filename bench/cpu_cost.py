"""CPU cost of one request inside Django, independent of the machine's load.

Builds the production WSGI app (``devskyy.wsgi.application``, every middleware, the
benchmark database and Redis) in one process, warms it up, then calls it N times
with a real WSGI environ (no network, no server: what is counted is Django, the
middleware, DRF, the view and their I/O calls to PostgreSQL/Redis, client side).

Two measures per endpoint:

* **instructions per request**: the process runs under ``valgrind --tool=callgrind``
  with instrumentation switched on (``callgrind_control -i on``) only for the N
  measured requests; total instructions / N. Instruction counts do not depend on
  what else runs on the machine, so before/after comparisons are exact to ~0.1%.
* **CPU time per request** (``--no-valgrind``): ``time.thread_time()`` over N requests,
  median of 5 batches (moves with cache pressure from other processes; a cross-check).

    .venv/bin/python -m bench.cpu_cost [--requests 500] [--endpoints live,health,agents_key,agents_jwt]
        [--no-valgrind] [--env NAME=VALUE ...]

``--env`` sets variables before Django starts (A/B of a setting within one command).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BIN, PRODUCTION_ENV, ROOT, django_json, env_with, prepare_database, save

ENDPOINTS: dict[str, tuple[str, str]] = {
    # name: (path, credential: "" | "api_key" | "jwt")
    "live": ("/live", ""),
    "health": ("/health", ""),
    "agents_key": ("/api/v1/agents", "api_key"),
    "agents_jwt": ("/api/v1/agents", "jwt"),
}
UNTHROTTLED = {"RATE_LIMIT_PER_MINUTE": "100000000", "RATE_LIMIT_PER_HOUR": "1000000000"}


# --- the measured process -----------------------------------------------------------------
def _environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def child(endpoint: str, requests: int, creds: dict[str, str], valgrind: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")
    from devskyy.wsgi import application

    # What gunicorn's post_worker_init does in a production worker (gunicorn.conf.py);
    # the module is absent on trees older than this hook.
    try:
        from devskyy.core.gc_tuning import freeze_startup_objects
    except ImportError:
        pass
    else:
        freeze_startup_objects()

    if valgrind:
        # Under valgrind everything runs ~50x slower: /health's 0.9 s deadline would
        # turn checks into timeouts and count a different code path.
        from health_app import services as health_services

        health_services.HEALTH_DEADLINE_SECONDS = 60.0
    path, credential = ENDPOINTS[endpoint]
    headers = {}
    if credential == "api_key":
        headers["X-API-Key"] = creds["api_key"]
    elif credential == "jwt":
        headers["Authorization"] = f"Bearer {creds['jwt']}"
    statuses: list[str] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        body = application(_environ(path, headers), start_response)
        for _ in body:
            pass
        body.close()  # type: ignore[attr-defined]

    for _ in range(200):  # warm-up: lazy imports, connections, per-process caches
        call()
    if not statuses[-1].startswith("200"):
        raise SystemExit(f"{endpoint}: {statuses[-1]}")
    if valgrind:
        print("READY", flush=True)
        sys.stdin.readline()  # the parent switched instrumentation on
        for _ in range(requests):
            call()
        print("DONE", flush=True)
        sys.stdin.readline()
        out = {"status": statuses[-1]}
    else:
        batches = []
        for _ in range(5):
            started = time.thread_time()
            for _ in range(requests):
                call()
            batches.append((time.thread_time() - started) / requests * 1e6)
        out = {"status": statuses[-1], "cpu_us": round(statistics.median(batches), 1), "batches_us": batches}
    bad = [s for s in statuses if not s.startswith("200")]
    out["non_200"] = len(bad)
    print(json.dumps(out), flush=True)


# --- the driver ---------------------------------------------------------------------------------
def measure(
    endpoint: str, requests: int, creds: dict[str, Any], valgrind: bool, extra: dict[str, str]
) -> dict[str, Any]:
    env = env_with({**PRODUCTION_ENV, **UNTHROTTLED, **extra, "BENCH_CREDS": json.dumps(creds)})
    command = [str(BIN / "python"), "-m", "bench.cpu_cost", "--child", endpoint, "--requests", str(requests)]
    if not valgrind:
        done = subprocess.run([*command, "--no-valgrind"], cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    with tempfile.TemporaryDirectory(prefix="devskyy-callgrind-") as tmp, tempfile.TemporaryFile() as log:
        out_file = Path(tmp) / "callgrind.out"
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}", *command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,  # request log lines: a pipe read only on failure would fill and block
            text=True,
        )
        assert process.stdin
        assert process.stdout
        line = process.stdout.readline()
        if line.strip() != "READY":
            process.kill()
            log.seek(0)
            raise RuntimeError(f"{endpoint}: {line} {log.read().decode()[-3000:]}")
        subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True, capture_output=True)
        process.stdin.write("go\n")
        process.stdin.flush()
        if process.stdout.readline().strip() != "DONE":
            raise RuntimeError(f"{endpoint}: no DONE")
        subprocess.run(["callgrind_control", "-i", "off", str(process.pid)], check=True, capture_output=True)
        process.stdin.write("end\n")
        process.stdin.flush()
        tail = process.stdout.read()
        process.wait(timeout=600)
        result = json.loads(tail.strip().splitlines()[-1])
        totals = re.search(r"^totals: (\d+)", out_file.read_text(), re.M)
        if not totals:
            raise RuntimeError("no totals in the callgrind output")
        result["instructions_per_request"] = int(totals.group(1)) // requests
        keep = os.environ.get("BENCH_CALLGRIND_KEEP")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / f"callgrind.{endpoint}.out").write_bytes(out_file.read_bytes())
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--no-valgrind", action="store_true")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE set before Django starts")
    parser.add_argument("--name", default="", help="results file suffix")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests, json.loads(os.environ["BENCH_CREDS"]), not args.no_valgrind)
        return
    prepare_database()
    creds = django_json(["credentials"])
    extra = dict(item.split("=", 1) for item in args.env)
    measure_kind = "CPU time (thread_time)" if args.no_valgrind else "instructions (callgrind)"
    print(f"== per-request {measure_kind}, {args.requests} requests in-process through the WSGI app {extra or ''}")
    results: dict[str, Any] = {"requests": args.requests, "env": extra, "valgrind": not args.no_valgrind}
    for endpoint in args.endpoints.split(","):
        measured = measure(endpoint, args.requests, creds, not args.no_valgrind, extra)
        results[endpoint] = measured
        figure = (
            f"{measured['cpu_us']:8.1f} us CPU"
            if args.no_valgrind
            else f"{measured['instructions_per_request']:>12,} instructions"
        )
        print(
            f"  {endpoint:<12} {ENDPOINTS[endpoint][0]:<16} {figure}  ({measured['status']}, non-200 {measured['non_200']})"
        )
    save(f"cpu_cost{('_' + args.name) if args.name else ''}", results)


if __name__ == "__main__":
    main()
