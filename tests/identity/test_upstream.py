"""The sidecar's upstream client: keep-alive reuse, a stale connection retried once, chunked bodies, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from intelsec.errors import InputError
from intelsec.identity.upstream import UpstreamError, UpstreamPool
from tests.identity.netutil import LoopThread
from tests.pgserver import free_port


@pytest.fixture
def lt() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


def raw_server(lt: LoopThread, reply: bytes, close_after: bool) -> tuple[int, list[int]]:
    """Answers every request with `reply`; optionally hangs up right after (a keep-alive lie)."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if b"content-length: 3" in head.lower():
                    await reader.readexactly(3)
                writer.write(reply)
                await writer.drain()
                if close_after:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def start() -> int:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return int(server.sockets[0].getsockname()[1])

    return lt.run(start()), connections


def test_keepalive_reuse_and_chunked(lt: LoopThread) -> None:
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    port, conns = raw_server(lt, chunked, close_after=False)
    pool = UpstreamPool(f"http://127.0.0.1:{port}", timeout=5)
    for _ in range(3):
        r = lt.run(pool.send("POST", "/x?y=1", [("x-b", "2")], b"abc"))
        assert (r.status, r.body) == (200, b"abcde") and ("x-a", "1") in r.headers
    assert len(conns) == 1  # one connection reused three times
    lt.run(pool.aclose())


def test_stale_connection_is_retried_once(lt: LoopThread) -> None:
    port, conns = raw_server(lt, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", close_after=True)
    pool = UpstreamPool(f"127.0.0.1:{port}", timeout=5)
    assert lt.run(pool.send("GET", "/", [], b"")).body == b"ok"
    lt.run(asyncio.sleep(0.1))
    assert lt.run(pool.send("GET", "/", [], b"")).body == b"ok"  # idle one was dead: retried on a new one
    assert len(conns) == 2


def test_unreachable_upstream_and_bad_url(lt: LoopThread) -> None:
    pool = UpstreamPool(f"http://127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(UpstreamError, match="upstream 127.0.0.1"):
        lt.run(pool.send("GET", "/", [], b""))
    with pytest.raises(InputError, match="http://HOST:PORT"):
        UpstreamPool("https://example.com:443")
