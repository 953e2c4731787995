"""Measured figures of the reliability tests, shown at the end of the pytest run.

CI runs pytest without ``-s``, so a test records what it measured with :func:`record`:
the figures are written to ``var/reliability/<name>.json`` and printed in the terminal
summary by :func:`pytest_terminal_summary` (imported by tests/reliability/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

OUT_DIR = Path(__file__).resolve().parents[2] / "var" / "reliability"
_recorded: list[tuple[str, dict[str, Any]]] = []


def record(name: str, figures: dict[str, Any]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    _recorded.append((name, figures))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _recorded:
        return
    terminalreporter.section("reliability figures (also in var/reliability/)")
    for name, figures in _recorded:
        terminalreporter.write_line(f"{name}:")
        for key, value in figures.items():
            text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
            terminalreporter.write_line(f"  {key}: {text}")
