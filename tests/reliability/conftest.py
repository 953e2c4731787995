"""Reliability tests (issue 9): figures they measure are printed in the summary."""

from tests.support.fault_figures import fault_figures  # noqa: F401 - fixture of the fault tests
from tests.support.figures import pytest_terminal_summary  # noqa: F401 - pytest hook
