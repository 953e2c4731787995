"""Rate limits: headers, 429 envelope, identities, proxies, windows, Redis and its outage."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from django.test import Client, override_settings

from devskyy.core.models import APIKey, AuditLog
from devskyy.core.ratelimit import RateLimiter, Window
from devskyy.core.roles import Role
from tests.support.auth import access_token, bearer, make_user, security_events
from tests.support.servers import redis_server

pytestmark = pytest.mark.django_db


def _me(client: Client | None = None, **headers: Any):  # headers: any WSGI environ entries
    return (client or Client()).get("/api/v1/auth/me", **headers)


@override_settings(RATE_LIMIT_PER_MINUTE=5, RATE_LIMIT_PER_HOUR=100)
def test_successful_api_responses_carry_the_rate_limit_headers() -> None:
    token = access_token(make_user())
    remaining = []
    for _ in range(3):
        response = _me(**bearer(token))
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "5"
        assert 1 <= int(response["X-RateLimit-Reset"]) <= 60
        remaining.append(int(response["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2]


@override_settings(RATE_LIMIT_PER_MINUTE=2)
def test_probes_and_admin_are_not_limited(settings) -> None:
    client = Client()
    for _ in range(5):
        response = client.get("/live")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response
    assert client.get(f"/{settings.ADMIN_URL}login/").status_code == 200


@override_settings(RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_HOUR=100)
def test_past_the_limit_a_write_gets_429_with_envelope_and_retry_after_and_writes_nothing() -> None:
    token = access_token(make_user(Role.ADMIN))
    client = Client()

    def create(name: str):
        return client.post(
            "/api/v1/auth/api-keys",
            data=json.dumps({"name": name, "role": "api_user"}),
            content_type="application/json",
            **bearer(token),
        )

    assert [create(f"k{i}").status_code for i in range(3)] == [201, 201, 201]
    before_events = security_events("throttled")
    refused = create("one-too-many")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "throttled"
    assert error["request_id"] == refused["X-Request-ID"]
    assert error["details"]["limit"] == 3
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Remaining"] == "0"
    assert refused["X-RateLimit-Reset"] == refused["Retry-After"]
    assert not APIKey.objects.filter(name="one-too-many").exists()
    assert APIKey.objects.count() == 3
    # Counted every time, audited once per client and window.
    create("again")
    assert security_events("throttled") == before_events + 2
    rows = AuditLog.objects.filter(action="ratelimit.throttled")
    assert rows.count() == 1
    assert rows.get().actor_label.startswith("user:")


@override_settings(RATE_LIMIT_PER_MINUTE=2, RATE_LIMIT_PER_HOUR=100)
def test_each_user_and_each_anonymous_ip_has_its_own_budget() -> None:
    alice, bob = access_token(make_user()), access_token(make_user())
    assert [_me(**bearer(alice)).status_code for _ in range(3)] == [200, 200, 429]
    assert _me(**bearer(bob)).status_code == 200
    # Anonymous requests from the same address are counted by IP, not against alice.
    assert [_me().status_code for _ in range(3)] == [401, 401, 429]
    assert _me(Client(REMOTE_ADDR="10.9.8.7")).status_code == 401


@override_settings(RATE_LIMIT_PER_MINUTE=2, RATE_LIMIT_PER_HOUR=100)
def test_bad_credentials_are_counted_against_the_ip() -> None:
    client = Client(REMOTE_ADDR="10.0.0.5")
    answers = [_me(client, HTTP_AUTHORIZATION=f"Bearer forged-{i}").status_code for i in range(3)]
    assert answers == [401, 401, 429]


@override_settings(RATE_LIMIT_PER_MINUTE=1, RATE_LIMIT_PER_HOUR=100, TRUSTED_PROXY_COUNT=1)
def test_x_forwarded_for_is_trusted_only_for_the_configured_proxies() -> None:
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    # The proxy appends the real client last; whatever the client wrote before is ignored.
    assert _me(proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7").status_code == 401
    assert _me(proxy, HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.7").status_code == 429
    assert _me(proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.8").status_code == 401


@override_settings(RATE_LIMIT_PER_MINUTE=1, RATE_LIMIT_PER_HOUR=100, TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_x_forwarded_for_is_ignored() -> None:
    client = Client(REMOTE_ADDR="10.0.0.2")
    assert _me(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 401
    assert _me(client, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 429


@override_settings(RATE_LIMIT_PER_MINUTE=100, RATE_LIMIT_PER_HOUR=2)
def test_the_hourly_limit_applies_and_reports_itself() -> None:
    token = access_token(make_user())
    assert [_me(**bearer(token)).status_code for _ in range(2)] == [200, 200]
    refused = _me(**bearer(token))
    assert refused.status_code == 429
    assert refused["X-RateLimit-Limit"] == "2"
    assert 3500 < int(refused["Retry-After"]) <= 3600


def test_a_window_resets_after_its_length_in_memory() -> None:
    limiter = RateLimiter(None, prefix="t", breaker_seconds=1)
    windows = [Window("minute", 2, 1)]
    assert [limiter.hit("ip:x", windows).allowed for _ in range(3)] == [True, True, False]
    refused = limiter.hit("ip:x", windows)
    assert refused.reset_after == 1
    time.sleep(1.05)
    again = limiter.hit("ip:x", windows)
    assert again.allowed
    assert again.remaining == 1


def test_refused_requests_spend_no_budget_in_the_longer_window() -> None:
    limiter = RateLimiter(None, prefix="t", breaker_seconds=1)
    windows = [Window("minute", 1, 1), Window("hour", 3, 3600)]
    assert [limiter.hit("u", windows).allowed for _ in range(5)] == [True, False, False, False, False]
    time.sleep(1.05)
    decision = limiter.hit("u", windows)
    assert decision.allowed
    # 2 of 3 spent in the hour: the four refusals did not count.
    assert limiter.hit("u", [Window("hour", 3, 3600)]).remaining == 0


@pytest.mark.services
def test_two_limiters_on_one_redis_share_one_budget_atomically(settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    first = RateLimiter(settings.REDIS_URL, prefix="rltest", breaker_seconds=1)
    second = RateLimiter(settings.REDIS_URL, prefix="rltest", breaker_seconds=1)
    first.reset()
    windows = [Window("minute", 25, 5)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(lambda i: (first, second)[i % 2].hit("user:1", windows), range(60)))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 25
    assert sorted(d.remaining for d in allowed) == list(range(25))
    assert all(d.backend == "redis" for d in decisions)
    first.reset()


@pytest.mark.services
def test_redis_outage_fails_open_per_process_records_the_event_once_and_recovers() -> None:
    with redis_server() as redis:
        limiter = RateLimiter(redis.url, prefix="outage", breaker_seconds=0.5)
        windows = [Window("minute", 3, 60)]
        assert limiter.hit("ip:a", windows).backend == "redis"
        redis.stop()
        before = security_events("rate_limiter_unavailable")
        decisions = [limiter.hit("ip:a", windows) for _ in range(5)]
        # Open, but still limiting in this process's memory.
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert {d.backend for d in decisions} == {"local"}
        time.sleep(0.6)  # the breaker lets one call probe Redis again: still down
        limiter.hit("ip:b", windows)
        assert security_events("rate_limiter_unavailable") == before + 1
        assert AuditLog.objects.filter(action="ratelimit.unavailable").count() == 1
        redis.start()
        time.sleep(0.6)
        assert limiter.hit("ip:a", windows).backend == "redis"


@override_settings(RATE_LIMIT_PER_MINUTE=1, RATE_LIMIT_PER_HOUR=100)
def test_a_throttled_request_is_counted_under_its_route_template() -> None:
    from prometheus_client import REGISTRY

    labels = {"method": "GET", "route": "/api/v1/auth/me", "status": "429"}
    before = REGISTRY.get_sample_value("http_requests_total", labels) or 0.0
    _me()
    assert _me().status_code == 429
    assert REGISTRY.get_sample_value("http_requests_total", labels) == before + 1


# --- the Redis script: the same algorithm as in memory, and its connection --------------
@pytest.fixture
def shared_limiter(settings):
    limiter = RateLimiter(settings.REDIS_URL, prefix="rlscript", breaker_seconds=0.5)
    limiter.reset()
    yield limiter
    limiter.reset()


@pytest.mark.services
def test_the_script_counts_resets_and_refuses_like_the_memory_limiter(shared_limiter) -> None:
    windows = [Window("minute", 2, 1)]
    decisions = [shared_limiter.hit("ip:x", windows) for _ in range(4)]
    assert [(d.allowed, d.remaining, d.backend) for d in decisions] == [
        (True, 1, "redis"),
        (True, 0, "redis"),
        (False, 0, "redis"),
        (False, 0, "redis"),
    ]
    # The first refusal in a window is flagged (audited once), later ones are not.
    assert [d.first_rejection for d in decisions[2:]] == [True, False]
    assert decisions[2].reset_after == 1
    time.sleep(1.05)
    again = shared_limiter.hit("ip:x", windows)
    assert (again.allowed, again.remaining) == (True, 1)


@pytest.mark.services
def test_the_script_spends_no_budget_on_refused_requests(shared_limiter) -> None:
    windows = [Window("minute", 1, 1), Window("hour", 3, 3600)]
    assert [shared_limiter.hit("u", windows).allowed for _ in range(5)] == [True, False, False, False, False]
    time.sleep(1.05)
    assert shared_limiter.hit("u", windows).allowed
    assert shared_limiter.hit("u", [Window("hour", 3, 3600)]).remaining == 0
    # Refused by the hour, the minute window is not started or spent either.
    refused = shared_limiter.hit("v", [Window("minute", 5, 60), Window("hour", 0, 3600)])
    assert (refused.allowed, refused.limit) == (False, 0)
    assert shared_limiter.hit("v", [Window("minute", 5, 60)]).remaining == 4


@pytest.mark.services
def test_the_script_reads_version_counters_and_creates_missing_ones(shared_limiter) -> None:
    import redis as redis_lib

    from devskyy.core import versions

    client = redis_lib.Redis.from_url(_url(shared_limiter))
    client.delete(versions.key("rl-test-a"), versions.key("rl-test-b"))
    client.set(versions.key("rl-test-a"), 41)
    before = versions.initial_value()
    decision = shared_limiter.hit("ip:v", [Window("minute", 5, 60)], ("rl-test-a", "rl-test-b"))
    assert decision.versions is not None
    assert decision.versions["rl-test-a"] == 41
    created = decision.versions["rl-test-b"]
    assert created >= before
    stored = client.get(versions.key("rl-test-b"))
    assert int(stored) == created  # type: ignore[arg-type]  # sync client
    # Refused requests read them too.
    refused = shared_limiter.hit("ip:v", [Window("minute", 0, 60)], ("rl-test-a",))
    assert not refused.allowed
    assert refused.versions == {"rl-test-a": 41}
    client.delete(versions.key("rl-test-a"), versions.key("rl-test-b"))


def _url(limiter: RateLimiter) -> str:
    kwargs = limiter._client.connection_pool.connection_kwargs  # type: ignore[union-attr]
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


@pytest.mark.services
def test_the_script_survives_a_script_flush_and_a_dropped_connection(shared_limiter) -> None:
    import redis as redis_lib

    windows = [Window("minute", 10, 60)]
    assert shared_limiter.hit("ip:f", windows).remaining == 9
    client = redis_lib.Redis.from_url(_url(shared_limiter))
    client.script_flush()
    flushed = shared_limiter.hit("ip:f", windows)
    assert (flushed.backend, flushed.remaining) == ("redis", 8)
    host, port = shared_limiter._script._connection()._sock.getsockname()[:2]
    client.client_kill(f"{host}:{port}")  # the server drops the limiter's connection
    dropped = shared_limiter.hit("ip:f", windows)
    assert (dropped.backend, dropped.remaining) == ("redis", 7)


@pytest.mark.services
def test_a_forked_child_counts_over_a_connection_of_its_own(shared_limiter) -> None:
    """gunicorn forks workers from a master that may have called the limiter: a child
    must not write to its parent's socket (replies would cross)."""
    import os

    windows = [Window("minute", 10, 60)]
    assert shared_limiter.hit("ip:fork", windows).remaining == 9
    parent_port = shared_limiter._script._connection()._sock.getsockname()[1]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            decision = shared_limiter.hit("ip:fork", windows)
            connection = shared_limiter._script._connection()
            child_port = connection._sock.getsockname()[1] if connection._sock else 0
            os.write(write, f"{decision.backend} {decision.remaining} {child_port}".encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    backend, remaining, child_port = os.read(read, 100).decode().split()
    os.close(read)
    assert (backend, remaining) == ("redis", "8")
    assert int(child_port) not in (0, parent_port)
    after = shared_limiter.hit("ip:fork", windows)  # the parent's own connection still answers
    assert (after.backend, after.remaining) == ("redis", 7)
    assert shared_limiter._script._connection()._sock.getsockname()[1] == parent_port


@pytest.mark.services
def test_a_timed_out_call_is_not_sent_twice() -> None:
    """A reply that does not come in time: the limiter answers from memory at once and
    does not send the script again (it may have run: a retry would count twice)."""
    import os
    import signal

    with redis_server() as server:
        limiter = RateLimiter(server.url, prefix="timeout", breaker_seconds=0.3)
        windows = [Window("minute", 10, 60)]
        assert limiter.hit("ip:t", windows).remaining == 9
        pid = server.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            stalled = limiter.hit("ip:t", windows)
            waited = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert stalled.backend == "local"
        assert waited < 1.0
        time.sleep(0.4)  # past the breaker
        after = limiter.hit("ip:t", windows)
        # 1 before, 1 sent while Redis was stopped (run once when it resumed), this one.
        assert (after.backend, after.remaining) == ("redis", 7)


@pytest.mark.services
def test_a_clients_packed_check_is_kept_and_the_table_stays_bounded(shared_limiter, monkeypatch) -> None:
    from devskyy.core import ratelimit

    monkeypatch.setattr(ratelimit, "_PACKED_MAX", 3)
    windows = [Window("minute", 2, 60)]
    first = shared_limiter.hit("ip:k0", windows)
    command = next(iter(shared_limiter._packed.values()))
    assert shared_limiter.hit("ip:k0", windows).remaining == first.remaining - 1
    assert list(shared_limiter._packed.values()) == [command]  # the same packed call, reused
    for n in range(1, 6):
        assert shared_limiter.hit(f"ip:k{n}", windows).remaining == 1
    assert len(shared_limiter._packed) <= 3
    # Dropped from the table, a client's count lives on in Redis.
    assert not shared_limiter.hit("ip:k0", windows).allowed


# --- the check made on the web server's event loop (devskyy/wsgi_bridge.py) ------------
def _loop_check(path: str, **meta: Any) -> Any:
    """check_on_loop as the bridge calls it, on an event loop of its own; its outcome."""
    from devskyy.core.ratelimit import CHECKED_ON_LOOP, check_on_loop, get_limiter

    environ: dict[str, Any] = {"REMOTE_ADDR": "127.0.0.1", "SCRIPT_NAME": "", **meta}

    async def main() -> None:
        await check_on_loop(path, environ)
        get_limiter().close_loop_connection()

    asyncio.run(main())
    return environ.get(CHECKED_ON_LOOP)


@pytest.mark.services
@override_settings(RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_HOUR=100)
def test_a_check_made_on_the_event_loop_spends_the_same_budget_and_the_request_uses_it() -> None:
    from devskyy.core import versions
    from devskyy.core.ratelimit import CHECKED_ON_LOOP

    user = make_user()
    token = access_token(user)
    assert _me(**bearer(token))["X-RateLimit-Remaining"] == "2"  # checked on the request's thread
    checked = _loop_check("/api/v1/auth/me", **bearer(token))
    identity, decision = checked
    assert identity == f"user:{user.pk}"
    assert (decision.allowed, decision.remaining, decision.backend) == (True, 1, "redis")
    assert set(decision.versions) == set(versions.registered())
    # The request carries the loop's decision: nothing is counted twice.
    carried = _me(**bearer(token), **{CHECKED_ON_LOOP: checked})
    assert (carried.status_code, carried["X-RateLimit-Remaining"]) == (200, "1")
    assert _me(**bearer(token))["X-RateLimit-Remaining"] == "0"
    refused = _loop_check("/api/v1/auth/me", **bearer(token))
    assert not refused[1].allowed
    response = _me(**bearer(token), **{CHECKED_ON_LOOP: refused})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert response["X-RateLimit-Remaining"] == "0"
    assert AuditLog.objects.filter(action="ratelimit.throttled").count() == 1  # recorded on the thread


@pytest.mark.services
def test_what_only_the_request_thread_can_tell_is_left_to_it(settings) -> None:
    from django.urls import reverse

    from devskyy.core.access import SIGNED_ROUTE_CHECKS
    from tests.support.auth import make_api_key

    unverified = make_api_key()  # this process has not verified it yet: that needs the database
    assert _loop_check("/api/v1/auth/me", HTTP_X_API_KEY=unverified.key) is None
    assert _loop_check("/api/v1/auth/me", HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}=abc") is None
    assert _loop_check("/live") is None
    assert _loop_check(f"/{settings.ADMIN_URL}") is None
    assert SIGNED_ROUTE_CHECKS
    for name in SIGNED_ROUTE_CHECKS:  # signed webhooks: the signature decides whether to count
        assert _loop_check(reverse(name)) is None
    assert _loop_check("/api/v1/auth/me", SCRIPT_NAME="/prefix") is None
    # A bad token is counted against the client's IP there too; so is no credential.
    assert _loop_check("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer not-a-token")[0] == "ip:127.0.0.1"
    assert _loop_check("/api/v1/auth/me", HTTP_COOKIE="other=1")[0] == "ip:127.0.0.1"


def test_without_redis_the_loop_leaves_the_check_to_the_thread() -> None:
    limiter = RateLimiter(None, prefix="noredis", breaker_seconds=1)
    assert asyncio.run(limiter.hit_from_loop("ip:a", [Window("minute", 3, 60)], ())) is None


@pytest.mark.services
def test_redis_failing_the_loops_check_opens_the_breaker_and_the_thread_records_it_and_counts_in_memory(
    settings, monkeypatch
) -> None:
    import redis as redis_lib

    from devskyy.core import versions
    from devskyy.core.ratelimit import CHECKED_ON_LOOP

    monkeypatch.setattr(versions, "_open_until", 0.0)  # restored after the test

    with redis_server() as server:
        limiter = RateLimiter(server.url, prefix="loopfail", breaker_seconds=5)
        windows = [Window("minute", 3, 60)]

        async def main() -> tuple[Any, Any, Any]:
            # A fresh server has no script: the loop leaves that check to the thread, which loads it.
            assert await limiter.hit_from_loop("ip:z", windows, ()) is None
            assert limiter.hit("ip:z", windows).remaining == 2
            ok = await limiter.hit_from_loop("ip:z", windows, ())
            server.stop()
            failed = await limiter.hit_from_loop("ip:z", windows, ())
            after = await limiter.hit_from_loop("ip:z", windows, ())
            limiter.close_loop_connection()
            return ok, failed, after

        ok, failed, after = asyncio.run(main())
    assert (ok.allowed, ok.remaining, ok.backend) == (True, 1, "redis")
    assert isinstance(failed, redis_lib.ConnectionError)
    assert after is None  # the breaker is open: the thread's limiter answers from memory
    token = access_token(make_user())
    before = security_events("rate_limiter_unavailable")
    carried: dict[str, Any] = {CHECKED_ON_LOOP: (f"user:{make_user().pk}", failed)}
    response = _me(**bearer(token), **carried)
    assert response.status_code == 200
    assert response["X-RateLimit-Remaining"] == str(settings.RATE_LIMIT_PER_MINUTE - 1)
    assert security_events("rate_limiter_unavailable") == before + 1
    assert AuditLog.objects.filter(action="ratelimit.unavailable").count() == 1
    # Nor does the request wait out a second timeout reading a version from that server.
    assert versions.current(versions.AUTH) is None
