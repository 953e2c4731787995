"""Figures the fault tests measured, shown in pytest's terminal summary and saved.

CI runs pytest without ``-s``, so a test's prints would be lost. A test takes the
``fault_figures`` fixture and calls it (``fault_figures("max latency", 41.2, "ms")``):
each figure is stored as a JUnit property of the test, printed in a "fault figures"
section of the terminal summary, and written to ``var/reliability/faults.json``.
The summary hook is registered as a plugin the first time the fixture is used, so
this needs no hook in a conftest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

OUT_FILE = Path(__file__).resolve().parents[2] / "var" / "reliability" / "faults.json"
_PLUGIN_NAME = "devskyy-fault-figures"

FaultFigures = Callable[..., None]


class _Reporter:
    def __init__(self) -> None:
        self.figures: list[tuple[str, str, str]] = []  # (test, name, value with unit)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.figures:
            return
        terminalreporter.section(
            f"fault figures (measured in this run; also {OUT_FILE.relative_to(OUT_FILE.parents[2])})"
        )
        for test, name, value in self.figures:
            terminalreporter.write_line(f"{test}: {name}: {value}")
        OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
        by_test: dict[str, dict[str, str]] = {}
        for test, name, value in self.figures:
            by_test.setdefault(test, {})[name] = value
        OUT_FILE.write_text(json.dumps(by_test, indent=2) + "\n")


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> FaultFigures:
    manager = request.config.pluginmanager
    reporter = manager.get_plugin(_PLUGIN_NAME)
    if reporter is None:
        reporter = _Reporter()
        manager.register(reporter, _PLUGIN_NAME)
    test = request.node.name

    def record(name: str, value: object, unit: str = "") -> None:
        text = f"{value:.2f}" if isinstance(value, float) else str(value)
        record_property(name, f"{text}{unit}")
        reporter.figures.append((test, name, f"{text}{unit}"))

    return record
