"""The small HTTP/1.1 server under the sidecar and broker: bad input, limits, keep-alive."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from intelsec.identity import httpserver
from tests.identity.netutil import LoopThread, echo, start_server


@pytest.fixture
def addr() -> Iterator[tuple[str, int]]:
    lt = LoopThread()
    _, a = start_server(lt, echo)
    host, port = a.split(":")
    yield host, int(port)
    lt.stop()


def exchange(addr: tuple[str, int], raw: bytes) -> bytes:
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_garbage_gets_400(addr: tuple[str, int]) -> None:
    assert exchange(addr, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_oversized_body_gets_413(addr: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserver, "MAX_BODY", 1000)
    body = b"x" * 5000
    out = exchange(addr, b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5000\r\n\r\n" + body)
    assert out.startswith(b"HTTP/1.1 413")


def test_pipelined_keepalive_requests(addr: tuple[str, int]) -> None:
    req = b"GET /one HTTP/1.1\r\nhost: a\r\n\r\nGET /two HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    out = exchange(addr, req)
    assert out.count(b"HTTP/1.1 200") == 2 and b'"/one"' in out and b'"/two"' in out


def test_port_in_use_is_a_config_error(addr: tuple[str, int]) -> None:
    import asyncio

    from intelsec.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot listen on"):
        asyncio.run(httpserver.HttpServer(echo, lambda: None).start(*addr))
