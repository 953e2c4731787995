"""Retries for outbound HTTP calls (WooCommerce, WordPress, Tripo/FASHN): ``Retry-After``,
backoff and the attempt loop.

An attempt returns its result, a ``Permanent`` failure (raised at once) or a ``Transient``
one, tried again after the server's ``Retry-After`` or the policy's backoff until the
policy gives up. Errors, metrics and log lines stay the client's: it builds the errors
and hears of every attempt through ``on_attempt``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

T = TypeVar("T")

# 408, 429 and the 5xx of a server overloaded, restarting or behind a failing proxy.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 86_400.0  # a day: a server asking for longer is misconfigured
_system_random = random.SystemRandom()


def parse_retry_after(value: str | None, *, cap: float = MAX_RETRY_AFTER, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Never negative (a date in the past means now), at most ``cap``; None when the
    header is missing or unreadable.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(cap, max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` counts the first try. Backoff before retry *n* (1-based) is
    ``min(backoff_max, backoff_base * 2**(n-1))``, reduced by up to ``jitter`` of itself
    at random so that workers retrying together spread out. A ``Retry-After`` from the
    server replaces the backoff. No retry starts once ``max_total_wait`` seconds of
    sleeping would be exceeded."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_total_wait: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1.")
        if min(self.backoff_base, self.backoff_max, self.max_total_wait) < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("Backoff values must be >= 0 and jitter within [0, 1].")

    @classmethod
    def doubling(cls, *, max_attempts: int, base: float) -> RetryPolicy:
        """``base * 2**(n-1)`` before retry *n*: no cap, no jitter, no limit on the total wait."""
        return cls(max_attempts, backoff_base=base, backoff_max=math.inf, max_total_wait=math.inf, jitter=0.0)

    def backoff(self, retry_number: int, rand: float) -> float:
        """Seconds before retry ``retry_number``; ``rand`` in [0, 1) picks the jitter."""
        base = min(self.backoff_max, self.backoff_base * 2.0 ** (retry_number - 1))
        return base * (1 - self.jitter * rand)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Handed to each attempt: its 1-based ``number`` and the seconds slept before it."""

    number: int
    waited: float


@dataclass(frozen=True, slots=True)
class Permanent:
    """Sending the request again would fail the same way: ``error`` is raised at once."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Transient:
    """A failure that may pass. ``error`` is raised when no retry follows; ``retryable``
    False gives up at once (a write that may have been applied); ``retry_after`` (the
    server's, parsed) replaces the backoff; ``detail`` says what failed, for log lines."""

    error: Exception
    retry_after: float | None = None
    retryable: bool = True
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """One finished attempt. ``retry``: another follows after ``delay`` seconds;
    ``transient``: a transient failure given up on; ``ok`` and ``permanent`` are final."""

    number: int
    outcome: Literal["ok", "permanent", "retry", "transient"]
    delay: float = 0.0
    detail: str = ""


def call_with_retries(
    attempt: Callable[[Attempt], T | Permanent | Transient],
    *,
    policy: RetryPolicy,
    max_inline_retry_after: float = math.inf,
    on_attempt: Callable[[AttemptReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = _system_random.random,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good or the policy gives up.

    A ``Retry-After`` longer than ``max_inline_retry_after`` is not slept: the error is
    raised at once, so a worker can schedule the work for later instead of blocking.
    """
    report = on_attempt or (lambda _: None)
    waited = 0.0
    number = 0
    while True:
        number += 1
        outcome = attempt(Attempt(number, waited))
        if isinstance(outcome, Permanent):
            report(AttemptReport(number, "permanent"))
            raise outcome.error
        if not isinstance(outcome, Transient):
            report(AttemptReport(number, "ok"))
            return outcome
        asked = outcome.retry_after
        delay = policy.backoff(number, rand()) if asked is None else asked
        give_up = (
            not outcome.retryable
            or number >= policy.max_attempts
            or waited + delay > policy.max_total_wait
            or (asked is not None and asked > max_inline_retry_after)
        )
        if give_up:
            report(AttemptReport(number, "transient", detail=outcome.detail))
            raise outcome.error
        report(AttemptReport(number, "retry", delay, outcome.detail))
        sleep(delay)
        waited += delay
