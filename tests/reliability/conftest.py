"""Reliability tests (issue 9)."""

from tests.support.fault_figures import fault_figures  # noqa: F401 - fixture of the fault tests
