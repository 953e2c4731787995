"""The table ``bench/run`` ends with: each PERF goal, what the last run measured, and
its ratio to the goal's comparison point (from bench/results/*.json).

    .venv/bin/python -m bench.summary
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def rows() -> list[tuple[str, str, str, str]]:
    """(goal, measured, ratio to the comparison point, verdict) per measured goal."""
    out: list[tuple[str, str, str, str]] = []
    agents = _load("agents_list")
    if agents:
        for name, label in (("api_key", "API key"), ("jwt", "JWT")):
            ratio = agents[f"P1_ratio_{name}"]
            measured = agents[f"devskyy_{name}"]
            p99 = measured["p99_ms"]
            out.append(
                (
                    f"P1 /api/v1/agents ({label}) >= 1.5x FastAPI, p99 <= 50 ms",
                    f"{measured['requests_per_second']:,.0f} req/s, p99 {p99:.1f} ms "
                    f"(FastAPI {agents['fastapi']['requests_per_second']:,.0f})",
                    f"{ratio:.2f}x FastAPI",
                    _verdict(ratio >= 1.5 and p99 <= 50),
                )
            )
    probes = _load("probes")
    if probes:
        health = probes["health"]["persistent"]
        out.append(
            (
                "P2 /health p50 <= 5 ms, p99 <= 20 ms (c10)",
                f"p50 {health['p50_ms']:.1f} ms, p99 {health['p99_ms']:.1f} ms",
                f"{health['p50_ms'] / 5:.2f}x / {health['p99_ms'] / 20:.2f}x the bounds",
                _verdict(health["p50_ms"] <= 5 and health["p99_ms"] <= 20),
            )
        )
        out.append(
            (
                "P3 /live (production middleware) >= 0.5x bare Django",
                f"{probes['live']['devskyy uvicorn+wsgi']['requests_per_second']:,.0f} req/s; "
                f"every middleware layer: {probes.get('P3_full_stack_ratio', 0):.2f}x",
                f"{probes['P3_ratio']:.2f}x bare Django",
                _verdict(probes["P3_ratio"] >= 0.5),
            )
        )
    fanout = _load("ws_fanout")
    if fanout:
        events = fanout["events"]
        ok = fanout["events_meeting_goal"] == events and fanout["connect_rate"] >= 200
        out.append(
            (
                "P4 1,000 sockets: 99% within 100 ms; connect >= 200/s",
                f"{fanout['events_meeting_goal']}/{events} events; p99 {fanout['p99_ms']} ms; "
                f"{fanout['connect_rate']:.0f} connects/s",
                f"per-event p99 {fanout['per_event_p99_ms_median'] / 100:.2f}x the 100 ms bound",
                _verdict(ok),
            )
        )
    burst = _load("tasks_throughput_burst")
    paced = _load("tasks_throughput_paced")
    if burst:
        out.append(
            (
                "P5 1,000 tool tasks, 2 workers >= 200 tasks/s",
                f"{burst['throughput']} tasks/s ({burst['pool']} x{burst['concurrency']})",
                f"{burst['throughput'] / 200:.2f}x the goal",
                _verdict(burst["throughput"] >= 200),
            )
        )
    prefork = _load("tasks_throughput_prefork")
    if prefork:
        out.append(
            (
                "P5 (same, production's prefork pool)",
                f"{prefork['throughput']} tasks/s ({prefork['pool']} x{prefork['concurrency']})",
                f"{prefork['throughput'] / 200:.2f}x the goal",
                _verdict(prefork["throughput"] >= 200),
            )
        )
    if paced:
        out.append(
            (
                "P5 enqueue-to-start p50 <= 50 ms",
                f"p50 {paced['start_p50_ms']} ms at {paced['rate']:.0f} tasks/s paced "
                f"({paced['throughput']} tasks/s done)",
                f"{paced['start_p50_ms'] / 50:.2f}x the bound",
                _verdict(paced["start_p50_ms"] <= 50),
            )
        )
    llm = _load("llm_cache")
    if llm:
        worst = max(llm["plain"]["p99_ms"], llm["tagged"]["p99_ms"])
        out.append(
            (
                "P8 repeated completion served from cache <= 5 ms server time",
                f"median {llm['plain']['median_ms']:.2f} ms, p99 {llm['plain']['p99_ms']:.2f} ms "
                f"(tagged: p99 {llm['tagged']['p99_ms']:.2f} ms)",
                f"p99 {worst / 5:.2f}x the bound",
                _verdict(worst <= 5),
            )
        )
    woo = _load("woocommerce_import")
    if woo:
        out.append(
            (
                "P9 10,000 products imported from a local WooCommerce <= 30 s",
                f"{woo['products']:,} products in {woo['first_seconds']:.1f} s (re-import {woo['reimport_seconds']:.1f} s)",
                f"{woo['first_seconds'] / 30:.2f}x the bound",
                _verdict(woo["first_seconds"] <= 30 and woo["products"] >= 10_000),
            )
        )
    memory = _load("memory")
    if memory:
        one = memory["one_worker"]
        out.append(
            (
                f"P6 one web worker <= 150 MB RSS after {memory['requests']:,} requests",
                f"{one['rss_mb']:.1f} MB RSS (at its first answer {one['curve'][0]['rss_mb']:.1f} MB)",
                f"{one['rss_mb'] / 150:.2f}x the bound",
                _verdict(one["rss_mb"] <= 150),
            )
        )
        shape = memory["production_shape"]
        out.append(
            (
                "P6 2 web workers + 1 task worker <= 450 MB",
                f"PSS {shape['pss_mb']:.1f} MB (RSS summed {shape['rss_mb']:.1f} MB, shared pages counted per process)",
                f"{shape['pss_mb'] / 450:.2f}x (PSS) / {shape['rss_mb'] / 450:.2f}x (RSS sum)",
                _verdict(shape["pss_mb"] <= 450) + ("" if shape["rss_mb"] <= 450 else " (PSS); RSS sum NOT met"),
            )
        )
    startup = _load("startup")
    if startup:
        figures = startup["figures"]
        worst = startup["worst_first_request_s"]
        out.append(
            (
                "P7 a worker serves its first request <= 3 s after start",
                f"web cold {figures['agents_s']['median']:.2f} s, replaced worker "
                f"{figures['replaced_agents_s']['median']:.2f} s, task worker {figures['task_finished_s']['median']:.2f} s "
                f"(medians; worst {worst:.2f} s)",
                f"{worst / 3:.2f}x the bound (worst)",
                _verdict(worst <= 3),
            )
        )
    budgets = _load("query_budgets")
    if budgets:
        out.append(
            (
                "P10 list endpoints: constant queries whatever the size (pinned in tests)",
                f"{budgets['constant']}/{budgets['endpoints']} constant at 2 and 30 items, "
                f"{budgets['within_budget']} within budget ({budgets['database']})",
                f"{budgets['constant']}/{budgets['endpoints']}",
                _verdict(budgets["tests_passed"] and budgets["constant"] == budgets["endpoints"]),
            )
        )
    return out


def main() -> None:
    table = rows()
    if not table:
        print("no results in bench/results/ yet")
        return
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    header = ("goal", "measured", "ratio", "verdict")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print("\n== summary (bench/results/)")
    print(line)
    print("-" * len(line))
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"machine: {Path('/proc/loadavg').read_text().split()[:3]} load average now")


if __name__ == "__main__":
    main()
