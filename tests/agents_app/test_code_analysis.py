"""Code scanning and fixing run the real analyser on submitted text only."""

from __future__ import annotations

import pytest

from agents_app.capabilities.code_analysis import (
    MAX_FILES,
    InvalidSubmissionError,
    SourceFile,
    fix_sources,
    scan_sources,
)

VULNERABLE = """import os
import subprocess
def run(user_input):
    eval(user_input)
    subprocess.call("ls " + user_input, shell=True)
    return os.path.join("a", "b")
"""


def test_scan_finds_security_issues_with_locations_and_severity() -> None:
    report = scan_sources([SourceFile("app/handler.py", VULNERABLE)])
    rules = {issue.rule for issue in report.issues}
    assert {"S307", "S602"} <= rules
    eval_issue = next(i for i in report.issues if i.rule == "S307")
    assert (eval_issue.file, eval_issue.line, eval_issue.column) == ("app/handler.py", 4, 5)
    assert eval_issue.severity == "high"
    assert report.summary["high"] >= 2
    assert report.summary["total"] == len(report.issues)
    assert report.issues[0].severity == "high"  # most severe first


def test_clean_code_has_no_issues() -> None:
    report = scan_sources([SourceFile("ok.py", "def add(a: int, b: int) -> int:\n    return a + b\n")])
    assert report.issues == []
    assert report.summary["total"] == 0


def test_syntax_errors_are_critical() -> None:
    report = scan_sources([SourceFile("broken.py", "def f(:\n    pass\n")])
    assert report.issues
    assert report.issues[0].severity == "critical"
    assert report.issues[0].rule == "syntax-error"


def test_submitted_config_is_ignored() -> None:
    # A pyproject in the submission must not switch rules off (ruff runs --isolated).
    files = [SourceFile("bad.py", "eval(input())\n")]
    report = scan_sources(files)
    assert any(i.rule == "S307" for i in report.issues)


def test_fix_returns_fixed_source_and_a_unified_diff() -> None:
    source = "import sys\nimport os\n\nprint(os.getcwd())\n"
    report = fix_sources([SourceFile("tidy.py", source)])
    fixed = report.files[0]
    assert fixed.changed
    assert "import sys" not in fixed.content
    assert fixed.diff.startswith("--- a/tidy.py\n+++ b/tidy.py\n")
    assert "-import sys" in fixed.diff
    assert report.fixed_count >= 1
    assert all(issue.rule != "F401" for issue in report.remaining.issues)


def test_fix_leaves_unfixable_findings_reported() -> None:
    report = fix_sources([SourceFile("danger.py", "eval(input())\n")])
    assert not report.files[0].changed
    assert report.files[0].diff == ""
    assert any(i.rule == "S307" for i in report.remaining.issues)


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd.py", "/abs/path.py", "a/../../b.py", "notes.txt", "", "dir\\win.py", "a b.py"],
)
def test_unsafe_or_unsupported_file_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidSubmissionError):
        scan_sources([SourceFile(name, "x = 1\n")])


def test_limits_are_enforced() -> None:
    with pytest.raises(InvalidSubmissionError, match="At most"):
        scan_sources([SourceFile(f"m{i}.py", "x = 1\n") for i in range(MAX_FILES + 1)])
    with pytest.raises(InvalidSubmissionError, match="limit"):
        scan_sources([SourceFile("big.py", "x = 1\n" * 50_000)])
    with pytest.raises(InvalidSubmissionError, match="NUL"):
        scan_sources([SourceFile("nul.py", "x = 1\x00\n")])
    with pytest.raises(InvalidSubmissionError, match="at least one"):
        scan_sources([])
