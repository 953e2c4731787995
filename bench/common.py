"""Shared helpers for the benchmarks: servers, wrk runs, result tables."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
# Database and Redis of the benchmarks: never a test or development database.
BENCH_DB = os.environ.get("BENCH_DB", "devskyy_bench")

PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "bench-secret-key-" + "s" * 40,
    "JWT_SECRET_KEY": "bench-jwt-key-" + "j" * 40,
    "ENCRYPTION_MASTER_KEY": "bench-master-key-" + "m" * 40,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DATABASE_URL": f"{PG_ADMIN_URL}/{BENCH_DB}",
    "REDIS_URL": REDIS_URL,
    # Production's default: one request line per request is part of a request's cost.
    "LOG_LEVEL": "info",
    "GUNICORN_ACCESS_LOG": "/dev/null",
}
# Production redirects plain http; the benchmark speaks http on loopback as a proxy would.
PROXY_HEADERS = ["-H", "X-Forwarded-Proto: https"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_with(overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(overrides)
    return env


def prepare_database() -> None:
    """Create and migrate the benchmark database; seed agents when the command exists."""
    subprocess.run(
        ["psql", PG_ADMIN_URL + "/postgres", "-qc", f"CREATE DATABASE {BENCH_DB}"], capture_output=True, check=False
    )
    env = env_with(PRODUCTION_ENV)
    # --skip-checks: production's system checks speak of a deployment (core.W003: separate
    # services' disks); the benchmarks run every process on this one machine.
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v0", "--skip-checks"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    commands = subprocess.run(
        [str(BIN / "python"), "manage.py", "help", "--commands"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for seed in ("seed_agents", "seed_demo_shop"):
        if seed in commands:
            subprocess.run([str(BIN / "python"), "manage.py", seed], cwd=ROOT, env=env, check=True, capture_output=True)
    analyze()


def analyze() -> None:
    """Planner statistics for every table of the benchmark database.

    Production's PostgreSQL keeps them with autovacuum; this machine's runs with
    ``autovacuum = off``, so a freshly seeded table never had any and the planner
    guessed (the tool task's sales query: a nested loop over 183 orders for want of an
    estimate, 0.64 ms, against a hash join, 0.44 ms, once analysed)."""
    subprocess.run(["psql", f"{PG_ADMIN_URL}/{BENCH_DB}", "-qc", "ANALYZE"], capture_output=True, check=True)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def rss_mb(self) -> float:
        """Resident memory of the master and its workers, MiB."""
        pids = [self.process.pid] + [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        total = 0
        for pid in pids:
            with contextlib.suppress(FileNotFoundError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], *, app: str | None = None, workers: int = 2, worker_class: str = "uvicorn"
) -> Iterator[Server]:
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="devskyy-bench-metrics-")
    overrides = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "WEB_WORKER_CLASS": worker_class,
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"] + ([app] if app else [])
    # The log goes to a file: a pipe nobody reads would fill and stop the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env_with(overrides),
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
            try:
                httpx.get(url + "/live", headers={"X-Forwarded-Proto": "https"}, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Server(url, process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int

    def row(self) -> str:
        return f"{self.requests_per_second:9.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  errors {self.errors} non-2xx {self.non_2xx}"


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNIT[match.group(2)]


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 2,
    headers: list[str] | None = None,
    warmup_seconds: int = 1,
) -> WrkResult:
    """One wrk run; a first ``warmup_seconds`` run is discarded (lazy imports, per-thread
    connections and caches of a freshly started server are not what is measured)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    if warmup_seconds:
        warm = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{warmup_seconds}s", *(headers or []), url]
        subprocess.run(warm, capture_output=True, check=False)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", *(headers or []), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(rps, p50, p99, errors, int(non_2xx_match.group(1)) if non_2xx_match else 0)


def save(name: str, data: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def django_json(args: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``python -m bench.fixtures <args>`` against the benchmark database; its JSON."""
    out = subprocess.run(
        [str(BIN / "python"), "-m", "bench.fixtures", *args],
        cwd=ROOT,
        env=env_with(env or PRODUCTION_ENV),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def fastapi_baseline(workers: int = 2) -> Iterator[Server]:
    """The old service's stack (bench/fastapi_baseline) on the benchmark database."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "bench.fastapi_baseline.app:app",
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env_with({"BENCH_DSN": f"{PG_ADMIN_URL}/{BENCH_DB}"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"baseline exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
            try:
                httpx.get(url + "/live", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Server(url, process)
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- CPU by process: less noisy than throughput on a shared host -----------------------
def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine (every core; not idle, iowait or time the
    hypervisor gave to other guests) since boot."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cpu_by_group(pgids: set[int]) -> dict[str, float]:
    """CPU seconds so far of the processes in the process groups ``pgids`` ("workers":
    the servers or task workers a benchmark started in sessions of their own), of
    PostgreSQL and of Redis. Processes that exit in between (a producer's database
    sessions) drop out: the machine total is the figure to compare; these are a split."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups = {"workers": 0.0, "postgresql": 0.0, "redis": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        pgrp, cpu = int(rest[2]), (int(rest[11]) + int(rest[12])) / ticks
        if pgrp in pgids:
            groups["workers"] += cpu
        elif comm.startswith("postgres"):
            groups["postgresql"] += cpu
        elif comm.startswith("redis-server"):
            groups["redis"] += cpu
    return groups
