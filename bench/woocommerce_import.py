"""PERF P9: import 10,000 products from a local WooCommerce-compatible shop in <= 30 s.

Starts the local WooCommerce v3 server (tests/support/woocommerce_server.py: OAuth 1.0a
checked per request, 100 products per page, pagination headers) with N generated
products, then times ``manage.py sync_woocommerce --full --no-push`` run as a
subprocess with the production configuration (ENVIRONMENT=production, PostgreSQL,
Redis) against a fresh database. A second run times the idempotent re-import (every
product unchanged). Prints what it measured; exits 0.

    .venv/bin/python -m bench.woocommerce_import [--products 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench.common import BIN, PG_ADMIN_URL, PRODUCTION_ENV, ROOT, env_with, load_average, save

# Recreated per run, beside the other benchmarks' database (BENCH_DB).
BENCH_DB = os.environ.get("BENCH_DB", "devskyy_bench") + "_woo"


def fresh_database() -> str:
    admin = PG_ADMIN_URL + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {BENCH_DB}"], capture_output=True, check=False)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {BENCH_DB}"], capture_output=True, check=True)
    return f"{PG_ADMIN_URL}/{BENCH_DB}"


def run_sync(env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", "sync_woocommerce", "--full", "--no-push"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout, done.stderr, file=sys.stderr)
        raise SystemExit(f"sync_woocommerce failed with exit code {done.returncode}")
    return seconds, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support.woocommerce_server import WooCommerceServer

    load_before = load_average()
    database_url = fresh_database()
    with WooCommerceServer() as shop:
        seeded = time.perf_counter()
        shop.seed_products(args.products, start=datetime(2024, 1, 1, tzinfo=UTC))
        seed_seconds = time.perf_counter() - seeded
        env = env_with(
            {
                **PRODUCTION_ENV,
                "DATABASE_URL": database_url,
                "WORDPRESS_URL": shop.url,
                "WOOCOMMERCE_KEY": shop.consumer_key,
                "WOOCOMMERCE_SECRET": shop.consumer_secret,
                "WOOCOMMERCE_WEBHOOK_SECRET": "bench-webhook-secret",
            }
        )
        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput", "--skip-checks"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        first, first_out = run_sync(env)
        pages = sum(1 for r in shop.requests if r.method == "GET" and r.path == "products")
        second, second_out = run_sync(env)
    print(f"P9 WooCommerce full import (production config: PostgreSQL {BENCH_DB}, Redis)")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; shop seeded with {args.products} products "
        f"in {seed_seconds:.1f}s"
    )
    print(f"first full import : {first:6.2f} s wall (manage.py start to exit), {pages} product pages")
    print("    " + first_out.replace("\n", "\n    "))
    print(f"re-import (no-op) : {second:6.2f} s wall")
    print("    " + second_out.replace("\n", "\n    "))
    save(
        "woocommerce_import",
        {
            "products": args.products,
            "pages": pages,
            "first_seconds": round(first, 2),
            "reimport_seconds": round(second, 2),
            "load_before": load_before,
            "load_after": load_average(),
        },
    )
    print(
        f"P9 goal: <= 30 s for 10,000 products -> {'met' if first <= 30 and args.products >= 10_000 else 'see above'}"
    )


if __name__ == "__main__":
    main()
