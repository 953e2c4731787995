"""PERF P10: queries per list endpoint at two sizes, from the pinned budget tests.

Runs ``tests/test_query_budgets.py`` (every GET list route of the URL conf, read cold by
an authenticated admin at 2 and at 30 rows/items per page) on PostgreSQL and Redis, as
production runs, and prints each endpoint's query counts next to its budget. The
tests are what pins the budgets (they fail when a count changes); this prints them.

    .venv/bin/python -m bench.query_budgets

pytest-django creates its own ``test_<BENCH_DB>`` database for the run and drops it.
"""

from __future__ import annotations

import json
import platform
import subprocess
import tempfile
from pathlib import Path

from bench.common import BENCH_DB, BIN, PG_ADMIN_URL, REDIS_URL, ROOT, env_with, load_average, save


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="devskyy-bench-qb-") as tmp:
        report = Path(tmp) / "report.json"
        env = env_with(
            {
                "DATABASE_URL": f"{PG_ADMIN_URL}/{BENCH_DB}",
                "REDIS_URL": REDIS_URL,
                "QUERY_BUDGET_REPORT": str(report),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        done = subprocess.run(
            [str(BIN / "pytest"), "tests/test_query_budgets.py", "-q", "-p", "no:cacheprovider", "--create-db"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            raise SystemExit(f"the budget tests wrote no report:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        data = json.loads(report.read_text())
    measured: dict[str, dict[str, int]] = data["measured"]
    budgets: dict[str, int] = data["budgets"]
    constant = [route for route, m in measured.items() if m["small"] == m["large"]]
    within = [route for route, m in measured.items() if max(m["small"], m["large"]) <= budgets[route]]
    results: dict[str, object] = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "database": data["vendor"],
        "tests_passed": done.returncode == 0,
        "endpoints": len(measured),
        "constant": len(constant),
        "within_budget": len(within),
        "measured": measured,
        "budgets": budgets,
        "load": load_average(),
    }
    print(f"== PERF P10: queries per list endpoint, cold reads at two sizes ({data['vendor']})")
    print(f"{'endpoint':<44} {'items':>9} {'queries':>9} {'budget':>7}")
    for route in sorted(measured):
        m = measured[route]
        print(
            f"{route:<44} {m['small_items']:>4}/{m['large_items']:<4} "
            f"{m['small']:>4}/{m['large']:<4} {budgets[route]:>7}"
        )
    print(
        f"P10: {len(constant)}/{len(measured)} list endpoints read the same number of queries at both sizes, "
        f"{len(within)} within their pinned budget; budget tests {'passed' if done.returncode == 0 else 'FAILED'}"
    )
    if done.returncode:
        print(done.stdout[-3000:])
    save("query_budgets", results)
    return results


if __name__ == "__main__":
    run()
