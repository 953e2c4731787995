"""Code scanning and fixing of submitted source with ruff (lint + security rules).

Only submitted text is analysed, never a server path: files are written to a fresh
temporary directory, ruff runs there with ``--isolated`` (no configuration from the
submission is honoured), no cache, a time limit and a minimal environment. ruff
parses; it never executes the code.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

from devskyy.core.errors import DomainError, ServiceUnavailableError

MAX_FILES = 20
MAX_FILE_BYTES = 200_000
MAX_TOTAL_BYTES = 1_000_000
TIME_LIMIT_SECONDS = 20.0
RULES = ("E", "W", "F", "B", "S", "UP", "SIM", "I", "C4", "PIE", "RET")
_SUFFIXES = (".py", ".pyi")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")

# Severity by rule family: security findings first, then likely bugs, then style.
_SEVERITY_BY_PREFIX = (
    ("S", "high"),
    ("F", "medium"),
    ("B", "medium"),
    ("E9", "medium"),
)
SEVERITIES = ("critical", "high", "medium", "low")


class InvalidSubmissionError(DomainError):
    code = "invalid_submission"


@dataclass(frozen=True)
class SourceFile:
    name: str
    content: str


@dataclass
class Issue:
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    rule: str
    message: str
    fix_available: bool
    url: str | None


@dataclass
class ScanReport:
    issues: list[Issue]
    summary: dict[str, int]
    files_scanned: int
    rules: list[str] = field(default_factory=lambda: list(RULES))
    analyzer: str = "ruff"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FixedFile:
    name: str
    content: str
    diff: str
    changed: bool


@dataclass
class FixReport:
    files: list[FixedFile]
    fixed_count: int
    remaining: ScanReport

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [asdict(f) for f in self.files],
            "fixed_count": self.fixed_count,
            "remaining": self.remaining.as_dict(),
        }


def severity_for(rule: str) -> str:
    if not rule or rule == "invalid-syntax":  # the file does not parse at all
        return "critical"
    for prefix, severity in _SEVERITY_BY_PREFIX:
        if rule.startswith(prefix):
            return severity
    return "low"


def validate_files(files: list[SourceFile]) -> None:
    if not files:
        raise InvalidSubmissionError("Submit at least one file.")
    if len(files) > MAX_FILES:
        raise InvalidSubmissionError(f"At most {MAX_FILES} files per request.")
    seen: set[str] = set()
    total = 0
    for source in files:
        path = PurePosixPath(source.name)
        if not _NAME.match(source.name) or ".." in path.parts or not source.name.endswith(_SUFFIXES):
            raise InvalidSubmissionError(
                f"Invalid file name {source.name[:100]!r}: use a relative name like 'pkg/module.py' (.py or .pyi).",
                details={"file": source.name[:100]},
            )
        if source.name in seen:
            raise InvalidSubmissionError(f"Duplicate file name {source.name!r}.")
        seen.add(source.name)
        size = len(source.content.encode())
        if "\x00" in source.content:
            raise InvalidSubmissionError(f"{source.name} contains a NUL byte.")
        if size > MAX_FILE_BYTES:
            raise InvalidSubmissionError(f"{source.name} is {size} bytes; the limit is {MAX_FILE_BYTES}.")
        total += size
    if total > MAX_TOTAL_BYTES:
        raise InvalidSubmissionError(f"Submission is {total} bytes; the limit is {MAX_TOTAL_BYTES}.")


def _write(root: Path, files: list[SourceFile]) -> None:
    for source in files:
        target = root / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.content)


def _run_ruff(root: Path, *extra: str) -> list[dict[str, Any]]:
    command = [
        find_ruff_bin(),
        "check",
        "--isolated",
        "--no-cache",
        "--output-format",
        "json",
        "--exit-zero",
        "--select",
        ",".join(RULES),
        *extra,
        ".",
    ]
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell, our own binary
            command,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT_SECONDS,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(root), "NO_COLOR": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServiceUnavailableError(f"Analysis did not finish within {TIME_LIMIT_SECONDS:.0f}s.") from None
    if completed.returncode != 0:
        raise ServiceUnavailableError(f"The analyser failed: {completed.stderr.strip()[:300]}")
    parsed: list[dict[str, Any]] = json.loads(completed.stdout or "[]")
    return parsed


def _issues(root: Path, raw: list[dict[str, Any]]) -> list[Issue]:
    issues = []
    for item in raw:
        rule = item.get("code") or ""
        issues.append(
            Issue(
                file=Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix(),
                line=item["location"]["row"],
                column=item["location"]["column"],
                end_line=item["end_location"]["row"],
                end_column=item["end_location"]["column"],
                severity=severity_for(rule),
                rule="syntax-error" if rule in ("", "invalid-syntax") else rule,
                message=item["message"],
                fix_available=item.get("fix") is not None,
                url=item.get("url"),
            )
        )
    issues.sort(key=lambda i: (SEVERITIES.index(i.severity), i.file, i.line, i.column))
    return issues


def _report(issues: list[Issue], files: int) -> ScanReport:
    summary = dict.fromkeys(SEVERITIES, 0)
    for issue in issues:
        summary[issue.severity] += 1
    summary["total"] = len(issues)
    return ScanReport(issues=issues, summary=summary, files_scanned=files)


def scan_sources(files: list[SourceFile]) -> ScanReport:
    validate_files(files)
    with tempfile.TemporaryDirectory(prefix="devskyy-scan-") as tmp:
        root = Path(tmp)
        _write(root, files)
        return _report(_issues(root, _run_ruff(root)), len(files))


def fix_sources(files: list[SourceFile]) -> FixReport:
    """Apply ruff's safe fixes; return each file's new content and a unified diff."""
    validate_files(files)
    with tempfile.TemporaryDirectory(prefix="devskyy-fix-") as tmp:
        root = Path(tmp)
        _write(root, files)
        before = len(_run_ruff(root))
        remaining_raw = _run_ruff(root, "--fix")
        fixed: list[FixedFile] = []
        for source in files:
            new = (root / source.name).read_text()
            diff = "".join(
                difflib.unified_diff(
                    source.content.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"a/{source.name}",
                    tofile=f"b/{source.name}",
                )
            )
            fixed.append(FixedFile(name=source.name, content=new, diff=diff, changed=new != source.content))
        remaining = _report(_issues(root, remaining_raw), len(files))
        return FixReport(files=fixed, fixed_count=before - len(remaining_raw), remaining=remaining)
