"""The shared retry helpers: Retry-After parsing, backoff, and the attempt loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from devskyy.core.http_retry import (
    MAX_RETRY_AFTER,
    Attempt,
    AttemptReport,
    Permanent,
    RetryPolicy,
    Transient,
    call_with_retries,
    parse_retry_after,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class CallFailedError(Exception):
    pass


def _attempts(*outcomes: object) -> tuple[Callable[[Attempt], object], list[Attempt]]:
    """An attempt callable answering ``outcomes`` in turn, and the attempts it saw."""
    seen: list[Attempt] = []
    answers: Iterator[object] = iter(outcomes)

    def attempt(at: Attempt) -> object:
        seen.append(at)
        return next(answers)

    return attempt, seen


def _run(attempt: Callable[[Attempt], object], policy: RetryPolicy, **options: object):
    sleeps: list[float] = []
    reports: list[AttemptReport] = []
    options = {"sleep": sleeps.append, "rand": lambda: 0.0, "on_attempt": reports.append, **options}
    try:
        result = call_with_retries(attempt, policy=policy, **options)  # type: ignore[arg-type]
    except CallFailedError as exc:
        result = exc
    return result, sleeps, [(r.outcome, r.number, r.delay) for r in reports]


# --- Retry-After ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), (" 2.5 ", 2.5), ("0", 0.0), ("-5", 0.0)])
def test_retry_after_in_seconds_is_read_and_never_negative(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_a_future_http_date_is_the_seconds_until_then() -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 90.0


def test_retry_after_as_a_past_http_date_means_now() -> None:
    header = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 0.0


def test_retry_after_is_capped_by_the_caller_or_at_a_day() -> None:
    assert parse_retry_after("3600", cap=30.0) == 30.0
    assert parse_retry_after(format_datetime(NOW + timedelta(hours=2), usegmt=True), now=NOW, cap=60.0) == 60.0
    assert parse_retry_after("999999") == MAX_RETRY_AFTER


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "Someday, 99 Foo 2025", "nan", "inf", "-inf"])
def test_a_missing_or_unreadable_retry_after_is_none(header: str | None) -> None:
    assert parse_retry_after(header) is None


# --- backoff -------------------------------------------------------------------------------------
def test_backoff_doubles_up_to_its_cap_and_jitter_takes_off_at_most_its_share() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, jitter=0.5)
    assert [policy.backoff(n, 0.0) for n in (1, 2, 3, 4, 5, 10)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.backoff(3, 0.5) == 3.0
    for rand in (0.0, 0.25, 0.999):
        assert 2.0 <= policy.backoff(3, rand) <= 4.0


def test_the_doubling_policy_has_no_cap_jitter_or_total_limit() -> None:
    policy = RetryPolicy.doubling(max_attempts=4, base=1.5)
    assert [policy.backoff(n, 0.9) for n in (1, 2, 3, 12)] == [1.5, 3.0, 6.0, 1.5 * 2**11]
    assert policy.max_attempts == 4


@pytest.mark.parametrize(
    "options", [{"max_attempts": 0}, {"jitter": 1.5}, {"backoff_base": -1.0}, {"max_total_wait": -1.0}]
)
def test_a_policy_with_impossible_values_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**options)  # type: ignore[arg-type]


# --- the loop ------------------------------------------------------------------------------------
def test_a_first_success_is_returned_without_sleeping() -> None:
    attempt, seen = _attempts("done")
    assert _run(attempt, RetryPolicy()) == ("done", [], [("ok", 1, 0.0)])
    assert seen == [Attempt(1, 0.0)]


def test_transient_failures_are_retried_after_the_backoff_and_each_attempt_is_reported() -> None:
    attempt, seen = _attempts(Transient(CallFailedError("a")), Transient(CallFailedError("b")), "done")
    policy = RetryPolicy(backoff_base=1.0, backoff_max=10.0, jitter=0.5)
    result, sleeps, reports = _run(attempt, policy, rand=lambda: 0.5)
    assert result == "done"
    assert sleeps == [0.75, 1.5]
    assert reports == [("retry", 1, 0.75), ("retry", 2, 1.5), ("ok", 3, 0.0)]
    assert [at.waited for at in seen] == [0.0, 0.75, 2.25]


def test_the_servers_retry_after_replaces_the_backoff() -> None:
    attempt, _ = _attempts(Transient(CallFailedError("busy"), retry_after=3.0), "done")
    result, sleeps, _ = _run(attempt, RetryPolicy(backoff_base=0.01))
    assert (result, sleeps) == ("done", [3.0])


def test_it_gives_up_after_max_attempts_with_the_last_error() -> None:
    attempt, seen = _attempts(*(Transient(CallFailedError(str(n))) for n in (1, 2, 3)))
    result, sleeps, reports = _run(attempt, RetryPolicy(max_attempts=3, backoff_base=1.0))
    assert str(result) == "3"
    assert sleeps == [1.0, 2.0]
    assert [r[0] for r in reports] == ["retry", "retry", "transient"]
    assert len(seen) == 3


def test_it_gives_up_when_the_next_wait_would_pass_the_total_wait() -> None:
    busy = Transient(CallFailedError("busy"), retry_after=10.0)
    attempt, seen = _attempts(busy, busy, busy)
    result, sleeps, reports = _run(attempt, RetryPolicy(max_attempts=5, max_total_wait=15.0))
    assert isinstance(result, CallFailedError)
    assert sleeps == [10.0]
    assert reports == [("retry", 1, 10.0), ("transient", 2, 0.0)]
    assert seen[-1] == Attempt(2, 10.0)


def test_a_transient_failure_that_must_not_be_repeated_gives_up_at_once() -> None:
    attempt, _ = _attempts(Transient(CallFailedError("may have been applied"), retryable=False))
    result, sleeps, reports = _run(attempt, RetryPolicy())
    assert (str(result), sleeps, reports) == ("may have been applied", [], [("transient", 1, 0.0)])


def test_a_permanent_failure_is_raised_at_once() -> None:
    attempt, _ = _attempts(Permanent(CallFailedError("refused")))
    result, sleeps, reports = _run(attempt, RetryPolicy())
    assert (str(result), sleeps, reports) == ("refused", [], [("permanent", 1, 0.0)])


def test_a_retry_after_beyond_the_inline_limit_is_handed_back_not_slept() -> None:
    attempt, _ = _attempts(Transient(CallFailedError("later"), retry_after=120.0), "done")
    result, sleeps, _ = _run(attempt, RetryPolicy.doubling(max_attempts=4, base=1.0), max_inline_retry_after=5.0)
    assert (str(result), sleeps) == ("later", [])


def test_the_inline_limit_does_not_apply_to_the_policys_own_backoff() -> None:
    attempt, _ = _attempts(Transient(CallFailedError("a")), Transient(CallFailedError("b")), "done")
    result, sleeps, _ = _run(attempt, RetryPolicy.doubling(max_attempts=4, base=8.0), max_inline_retry_after=5.0)
    assert (result, sleeps) == ("done", [8.0, 16.0])


def test_the_details_of_a_retried_failure_reach_the_report() -> None:
    reports: list[AttemptReport] = []
    attempt, _ = _attempts(Transient(CallFailedError("x"), detail="HTTP 503"), "done")
    call_with_retries(attempt, policy=RetryPolicy(), on_attempt=reports.append, sleep=lambda _: None)
    assert reports[0] == AttemptReport(1, "retry", reports[0].delay, "HTTP 503")
    assert 0.25 <= reports[0].delay <= 0.5
