"""Start real servers (gunicorn, redis-server) in subprocesses for tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON_BIN = Path(sys.executable).parent
# Variables a test server must not inherit from the test process.
_SCRUBBED = ("DATABASE_URL", "REDIS_URL", "ENVIRONMENT", "DEBUG", "PROMETHEUS_MULTIPROC_DIR", "DEVSKYY_TEST_SERVICES")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    return free_port()


def base_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["PATH"] = f"{PYTHON_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def manage(args: list[str], env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {timeout}s")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def gunicorn(env: Mapping[str, str], *, workers: int = 2, worker_class: str = "uvicorn") -> Iterator[Server]:
    """Run ``gunicorn -c gunicorn.conf.py`` exactly as production starts it."""
    with gunicorns([env], workers=workers, worker_class=worker_class) as servers:
        yield servers[0]


@contextmanager
def gunicorns(
    envs: Sequence[Mapping[str, str]], *, workers: int | Sequence[int] = 2, worker_class: str = "uvicorn"
) -> Iterator[list[Server]]:
    """Several gunicorn servers started side by side (start-up dominates these tests)."""
    counts = [workers] * len(envs) if isinstance(workers, int) else list(workers)
    started: list[tuple[Server, Path]] = []
    try:
        for env, count in zip(envs, counts, strict=True):
            started.append(_spawn_gunicorn(env, count, worker_class))
        for server, _ in started:
            wait_until_up(server.url + "/live", server.process, timeout=60)
        yield [server for server, _ in started]
    finally:
        for server, _ in started:  # all asked to stop first: their shutdowns overlap
            if server.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.process.pid, signal.SIGTERM)
        for server, workdir in started:
            stop(server.process)
            shutil.rmtree(workdir, ignore_errors=True)


def _spawn_gunicorn(env: Mapping[str, str], workers: int, worker_class: str) -> tuple[Server, Path]:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="devskyy-gunicorn-"))
    log_path = workdir / "server.log"
    overrides = {
        "PORT": str(port),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "WEB_WORKER_CLASS": worker_class,
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PYTHON_BIN / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=base_env(overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path), workdir


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def redis_server(port: int | None = None, *, password: str | None = None) -> Iterator[RedisProcess]:
    """A private redis-server on its own port, stoppable and restartable by the test
    (``password``: clients must AUTH; ``url`` carries it)."""
    server = RedisProcess(port or free_port(), password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RedisProcess:
    def __init__(self, port: int, *, password: str | None = None) -> None:
        self.port = port
        self.password = password
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        return self._process.pid

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + (["--requirepass", self.password] if self.password else []),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None


@contextmanager
def _celery(args: list[str], env: Mapping[str, str], prefix: str) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A devskyy.taskqueue <args>`` in its own session, logging into a temporary
    directory (also the process's ``{workdir}`` in ``args``), stopped and cleaned up after."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    with (workdir / "celery.log").open("wb") as log:
        process = subprocess.Popen(
            [
                str(PYTHON_BIN / "celery"),
                "-A",
                "devskyy.taskqueue",
                *(a.replace("{workdir}", str(workdir)) for a in args),
            ],
            cwd=ROOT,
            env=base_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process, timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


def celery_worker(
    env: Mapping[str, str], *, concurrency: int = 1, hostname: str | None = None
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """A real Celery worker process (``celery -A devskyy.taskqueue worker``); ``hostname``
    (Celery's ``--hostname``, ``%h`` = this host) names it in task rows and heartbeats."""
    args = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork"]
    args.append(f"--hostname={hostname or f'test-{free_port()}@%h'}")
    return _celery(args, {"WORKER_HEARTBEAT_SECONDS": "1", **env}, "devskyy-worker-")


BEAT_INTERVALS = (
    "WOOCOMMERCE_SYNC_INTERVAL_SECONDS",
    "MARKETING_DISPATCH_INTERVAL_SECONDS",
    "TASK_REQUEUE_INTERVAL_SECONDS",
    "WEBHOOK_SWEEP_INTERVAL_SECONDS",
    "MEDIA_SWEEP_INTERVAL_SECONDS",
)


def beat_only(**seconds: str) -> dict[str, str]:
    """Environment for ``celery_beat`` with every schedule entry off but the ones named."""
    assert set(seconds) <= set(BEAT_INTERVALS), set(seconds) - set(BEAT_INTERVALS)
    return {name: seconds.get(name, "0") for name in BEAT_INTERVALS}


def celery_beat(env: Mapping[str, str]) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """A real ``celery -A devskyy.taskqueue beat`` process (render.yaml's devskyy-scheduler),
    queueing CELERY_BEAT_SCHEDULE as ``env`` sets it up."""
    return _celery(["beat", "--loglevel=INFO", "--schedule={workdir}/celerybeat-schedule"], env, "devskyy-beat-")


def poll(predicate: object, *, timeout: float, interval: float = 0.1) -> bool:
    """Call ``predicate`` until it returns truthy or ``timeout`` seconds pass."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@contextmanager
def black_hole() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers: a hung dependency."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        done.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()


def child_pids(parent: int) -> set[int]:
    """Processes whose parent is ``parent`` (gunicorn's workers, Celery's pool)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found.add(int(entry.name))
    return found
