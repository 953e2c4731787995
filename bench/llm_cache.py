"""PERF P8: a repeated LLM completion is served from cache in <= 5 ms server time.

Runs the gateway in-process against a loopback OpenAI-compatible server: one real
(upstream) completion fills the cache, then the same request is repeated and the time
spent inside ``gateway.complete`` is measured per call (routing query, cache key,
Redis GET, deserialisation). Also measured: the same with two product tags (adds the
product-version read). Prints what it measured; exits 0.

    .venv/bin/python -m bench.llm_cache [--iterations 500] [--embedded]

Default: PostgreSQL (BENCH_PG_URL, database devskyy_bench_llm) and Redis
(BENCH_REDIS_URL), as in production. ``--embedded``: SQLite + local-memory cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
# Its own database beside the other benchmarks' (BENCH_DB), migrated here.
BENCH_DB = os.environ.get("BENCH_DB", "devskyy_bench") + "_llm"


def configure(embedded: bool) -> str:
    for name in ("DATABASE_URL", "REDIS_URL", "ENVIRONMENT"):
        os.environ.pop(name, None)
    os.environ["CACHE_KEY_PREFIX"] = "bench-llm"
    os.environ["LOG_LEVEL"] = "warning"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")
    if embedded:
        path = Path(tempfile.mkdtemp(prefix="bench-llm-")) / "db.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "embedded: SQLite + local-memory cache"
    subprocess.run(
        ["psql", PG_ADMIN_URL + "/postgres", "-qc", f"CREATE DATABASE {BENCH_DB}"], capture_output=True, check=False
    )
    os.environ["DATABASE_URL"] = f"{PG_ADMIN_URL}/{BENCH_DB}"
    os.environ["REDIS_URL"] = REDIS_URL
    return f"production-like: PostgreSQL + Redis ({REDIS_URL})"


def measure(request: object, iterations: int) -> list[float]:
    from agents_app.llm.gateway import complete

    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        result = complete(request)  # type: ignore[arg-type]
        samples.append((time.perf_counter() - started) * 1000)
        assert result.cached, "expected a cache hit"
    return samples


def report(label: str, samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"{label:<34} n={len(samples):<5} median {statistics.median(samples):6.3f} ms  "
        f"p95 {p95:6.3f} ms  p99 {p99:6.3f} ms  max {ordered[-1]:6.3f} ms"
    )
    return {"median_ms": round(statistics.median(samples), 3), "p95_ms": round(p95, 3), "p99_ms": round(p99, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--embedded", action="store_true")
    args = parser.parse_args()
    setup = configure(args.embedded)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from agents_app.llm.gateway import complete
    from agents_app.llm.state import shared_state
    from agents_app.llm.types import ChatMessage, CompletionRequest
    from bench.common import load_average, save
    from tests.support.llm_servers import llm_server, openai_text

    call_command("migrate", verbosity=0, skip_checks=True)
    with llm_server("openai") as server:
        server.responder = lambda request: openai_text(
            "The Noir hoodie: heavyweight organic cotton, oversized fit.", prompt_tokens=120, completion_tokens=60
        )
        settings.LLM_PROVIDERS = {
            **{name: {"api_key": "", "base_url": ""} for name in settings.LLM_PROVIDERS},
            "openai": {"api_key": "bench-key", "base_url": server.base_url},
        }
        shared_state().clear()
        messages = [
            # A fresh nonce per run: the first call must really miss, whatever earlier runs cached.
            ChatMessage(role="system", content=f"You write product copy for a fashion brand. Run {uuid.uuid4()}."),
            ChatMessage(role="user", content="Describe the Noir hoodie in two sentences."),
        ]
        plain = CompletionRequest(messages=messages, agent_slug="creative-001")
        tagged = CompletionRequest(messages=messages, agent_slug="creative-001", product_ids=[101, 102])

        results: dict[str, object] = {"setup": setup, "iterations": args.iterations, "load_before": load_average()}
        print(f"P8 LLM cache hit, server time inside gateway.complete ({setup})")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {args.iterations} hits per case")
        for label, request in (("plain request", plain), ("request tagged with 2 products", tagged)):
            first_started = time.perf_counter()
            first = complete(request)
            first_ms = (time.perf_counter() - first_started) * 1000
            upstream_before = server.request_count
            measure(request, 20)  # warm-up
            samples = measure(request, args.iterations)
            assert server.request_count == upstream_before, "a cache hit reached the upstream server"
            print(f"{label:<34} first (upstream) call {first_ms:7.3f} ms, cached={first.cached}")
            results["tagged" if request is tagged else "plain"] = report(label + " (hits)", samples)
        print("target: <= 5 ms per hit (PERF P8)")
        results["load_after"] = load_average()
        save("llm_cache", results)


if __name__ == "__main__":
    main()
