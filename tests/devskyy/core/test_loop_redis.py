"""devskyy.core.loop_redis: pipelined Redis commands from the event loop, over real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest
import redis

from devskyy.core.loop_redis import LoopRedis, for_url
from tests.support.servers import redis_server

pytestmark = pytest.mark.services


def _client(url: str, timeout: float = 0.5) -> LoopRedis:
    client = for_url(url, timeout=timeout)
    assert client is not None
    return client


def _run(main: Any) -> Any:
    return asyncio.run(main)


def test_commands_of_concurrent_tasks_share_one_connection_and_each_gets_its_own_reply() -> None:
    with redis_server() as server:
        client = _client(server.url)
        watcher = redis.Redis.from_url(server.url)

        async def main() -> tuple[list[Any], int]:
            # Not connected yet: the first call connects, the others wait for its connection.
            replies = await asyncio.gather(*(client.call(_incr("n")) for _ in range(200)))
            assert await client.call(_command(b"PING")) == b"PONG"
            connected = int(watcher.info("clients")["connected_clients"])  # type: ignore[index]  # sync client
            client.close()
            return replies, connected

        replies, connected = _run(main())
        assert sorted(replies) == list(range(1, 201))
        assert connected == 2  # the loop's one connection and the watcher


def test_an_error_reply_fails_its_own_command_only() -> None:
    with redis_server() as server:
        client = _client(server.url)

        async def main() -> list[Any]:
            results = await asyncio.gather(
                client.call(_incr("k")),
                client.call(_command(b"EVALSHA", b"0" * 40, b"0")),
                client.call(_command(b"NOSUCHCOMMAND")),
                client.call(_incr("k")),
                return_exceptions=True,
            )
            client.close()
            return list(results)

        first, noscript, unknown, second = _run(main())
        assert (first, second) == (1, 2)
        assert isinstance(noscript, redis.exceptions.NoScriptError)
        assert isinstance(unknown, redis.ResponseError)
        assert "NOSUCHCOMMAND" in str(unknown).upper()


def test_a_caller_that_goes_away_leaves_the_replies_of_the_others_in_their_place() -> None:
    """A request cancelled while its command is in flight (the client hung up): its reply
    is read and dropped, so no other request ever gets it."""
    with redis_server() as server:
        client = _client(server.url)

        async def main() -> tuple[list[Any], bool, float]:
            assert await client.call(_command(b"PING")) == b"PONG"
            started = time.monotonic()
            # BLPOP on an empty list holds the connection for 0.2 s, then answers nil; the
            # commands sent after it wait for it on the same connection.
            gone = asyncio.ensure_future(client.call(_command(b"BLPOP", b"empty", b"0.2")))
            first = asyncio.ensure_future(client.call(_command(b"ECHO", b"first")))
            second = asyncio.ensure_future(client.call(_command(b"ECHO", b"second")))
            await asyncio.sleep(0.05)
            gone.cancel()
            replies = [await first, await second, await client.call(_command(b"ECHO", b"third"))]
            waited = time.monotonic() - started
            client.close()
            return replies, gone.cancelled(), waited

        replies, cancelled, waited = _run(main())
        assert replies == [b"first", b"second", b"third"]
        assert cancelled
        assert waited >= 0.19  # the others really waited behind the cancelled command


def test_the_password_and_database_of_the_url_are_used() -> None:
    with redis_server(password="s3cret") as server:
        url = server.url.replace("/0", "/3")
        client = _client(url)

        async def main() -> Any:
            reply = await client.call(_command(b"SET", b"where", b"db3"))
            client.close()
            return reply

        assert _run(main()) == b"OK"
        assert redis.Redis.from_url(url).get("where") == b"db3"
        assert redis.Redis.from_url(server.url).get("where") is None  # database 0

        refused = _client(url.replace("s3cret", "wrong"))

        async def wrong() -> None:
            await refused.call(_incr("x"))

        with pytest.raises(redis.ResponseError):
            _run(wrong())


def test_a_server_that_does_not_answer_fails_every_waiting_command_in_time_and_the_next_call_reconnects() -> None:
    with redis_server() as server:
        client = _client(server.url, timeout=0.3)

        async def stalled() -> tuple[list[Any], float]:
            assert await client.call(_incr("t")) == 1
            os.kill(server.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                results = await asyncio.gather(*(client.call(_incr("t")) for _ in range(3)), return_exceptions=True)
                return results, time.monotonic() - started
            finally:
                os.kill(server.pid, signal.SIGCONT)

        async def main() -> tuple[list[Any], float, Any]:
            results, waited = await stalled()
            after = await client.call(_command(b"GET", b"t"))
            client.close()
            return results, waited, after

        results, waited, after = _run(main())
        assert all(isinstance(r, redis.TimeoutError) for r in results), results
        assert 0.25 <= waited < 1.0
        # The stopped server still ran what it had read once it resumed; nothing was sent twice.
        assert after == b"4"


def test_a_stopped_server_fails_at_once_and_a_restarted_one_is_reconnected() -> None:
    with redis_server() as server:
        client = _client(server.url)

        async def call() -> Any:
            return await client.call(_incr("r"))

        async def main() -> list[Any]:
            out: list[Any] = [await call()]
            server.stop()
            started = time.monotonic()
            with pytest.raises(redis.ConnectionError):
                await call()
            with pytest.raises(redis.ConnectionError):
                await call()  # refused: fails fast, no hanging
            out.append(time.monotonic() - started)
            server.start()
            out.append(await call())
            client.close()
            return out

        first, failed_within, restarted = _run(main())
        assert first == 1
        assert failed_within < 0.5
        assert restarted == 1  # a new, empty server


@pytest.mark.parametrize(
    "url",
    [
        "rediss://127.0.0.1:6379/0",
        "unix:///run/redis.sock",
        "redis://127.0.0.1:6379/0?socket_timeout=5",
        "redis://127.0.0.1:6379/name",
        "redis:///0",
    ],
)
def test_urls_only_the_blocking_client_speaks_are_declined(url: str) -> None:
    assert for_url(url, timeout=0.5) is None


def test_a_plain_url_is_read_whole() -> None:
    client = for_url("redis://user:p%40ss@cache.internal:6380/7", timeout=0.5)
    assert client is not None
    assert (client.host, client.port, client.db, client.username, client.password) == (
        "cache.internal",
        6380,
        7,
        "user",
        "p@ss",
    )


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def _incr(key: str) -> bytes:
    return _command(b"INCR", key.encode())
