"""Auth and rate limits through real gunicorn workers on PostgreSQL and Redis."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from devskyy.core.roles import Role
from tests.support.auth import PASSWORD, make_user
from tests.support.servers import gunicorn, poll

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JWT_KEY = "jwt-test-key-" + "j" * 40
MASTER_KEY = "master-test-key-" + "m" * 40
LIMIT = 10
WINDOW = 5


def test_two_workers_enforce_one_budget_then_the_window_resets(server_env: dict[str, str]) -> None:
    user = make_user(Role.OPERATOR)
    env = {
        **server_env,
        "LOG_LEVEL": "debug",
        "JWT_SECRET_KEY": JWT_KEY,
        "ENCRYPTION_MASTER_KEY": MASTER_KEY,
        "RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "RATE_LIMIT_PER_HOUR": "1000",
        "RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
    }
    with gunicorn(env, workers=2) as server:
        login = httpx.post(
            server.url + "/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}, timeout=10
        )
        assert login.status_code == 200, login.text
        pair = login.json()
        auth = {"Authorization": f"Bearer {pair['access']}"}

        # Each round: a fresh connection, /health tells which worker holds it, then the
        # API call on the same keep-alive connection is answered by that worker.
        results: list[tuple[int, httpx.Response]] = []
        deadline = time.monotonic() + WINDOW - 1
        while time.monotonic() < deadline and len(results) < 60:
            with httpx.Client(base_url=server.url, timeout=10) as fresh:
                pid = fresh.get("/health").json()["services"]["api"]["pid"]
                results.append((pid, fresh.get("/api/v1/auth/me", headers=auth)))
            refused_by = {p for p, r in results if r.status_code == 429}
            if len(refused_by) == 2:
                break
        ok = [r for _, r in results if r.status_code == 200]
        refused = [(p, r) for p, r in results if r.status_code == 429]
        assert len({p for p, _ in results}) == 2, "both workers must have answered"
        assert len({p for p, _ in refused}) == 2, "both workers must refuse once the shared budget is spent"
        assert len(ok) == LIMIT, [r.status_code for _, r in results]
        assert [int(r.headers["X-RateLimit-Remaining"]) for r in ok] == list(range(LIMIT - 1, -1, -1))
        for _, response in refused:
            body = response.json()["error"]
            assert body["code"] == "throttled"
            assert body["request_id"] == response.headers["X-Request-ID"]
            assert response.headers["X-RateLimit-Remaining"] == "0"
            assert 1 <= int(response.headers["Retry-After"]) <= WINDOW

        # Each worker checked on its event loop, over one connection of its own
        # (devskyy/core/loop_redis.py names it after the worker).
        clients: list[dict[str, str]] = redis.Redis.from_url(env["REDIS_URL"]).client_list()  # type: ignore[assignment]
        names = {client["name"] for client in clients}
        assert {f"devskyy-limiter-{pid}" for pid, _ in results} <= names, names

        wait = int(refused[-1][1].headers["Retry-After"])
        time.sleep(wait + 0.3)
        after = httpx.get(server.url + "/api/v1/auth/me", headers=auth, timeout=10)
        assert after.status_code == 200
        assert after.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)

        # Refresh, reuse and logout through the server, then check its whole log for secrets.
        rotated = httpx.post(server.url + "/api/v1/auth/refresh", json={"refresh": pair["refresh"]}, timeout=10)
        assert rotated.status_code == 200
        reuse = httpx.post(server.url + "/api/v1/auth/refresh", json={"refresh": pair["refresh"]}, timeout=10)
        assert reuse.status_code == 401
        wrong = httpx.post(
            server.url + "/api/v1/auth/token", json={"username": user.username, "password": "not-" + PASSWORD}
        )
        assert wrong.status_code == 401
        # The web server writes INFO lines in batches every 0.25 s (LOG_FLUSH_SECONDS).
        assert poll(lambda: "POST /api/v1/auth/token 401" in server.log(), timeout=5), server.log()[-3000:]
        log = server.log()
    assert "/api/v1/auth/me" in log, "the server log captured no request lines"
    for secret in (PASSWORD, JWT_KEY, MASTER_KEY, pair["access"], pair["refresh"], rotated.json()["refresh"]):
        assert secret not in log
