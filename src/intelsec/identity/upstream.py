"""Keep-alive HTTP/1.1 client for the sidecar's local plain-HTTP upstream, on asyncio streams + h11.

The inbound sidecar talks to one local app over loopback; a general client (redirects, cookies,
proxies, decoding) only adds latency there.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from intelsec.errors import InputError
from intelsec.identity.httpserver import Response


class UpstreamError(Exception):
    pass


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Stale(Exception):
    """A reused connection was closed by the upstream before it answered: safe to retry once."""


class UpstreamPool:
    def __init__(self, url: str, timeout: float = 30.0, max_idle: int = 64) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise InputError(f"--upstream must be http://HOST:PORT (the local app, plain HTTP), got {url!r}")
        self.host, self.port, self.timeout, self.max_idle = parts.hostname, parts.port, timeout, max_idle
        self.authority = f"{parts.hostname}:{parts.port}"
        self._idle: list[_Conn] = []

    async def _open(self) -> _Conn:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"upstream {self.authority}: {type(exc).__name__}: {exc}") from None
        return _Conn(reader, writer, h11.Connection(h11.CLIENT))

    async def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Response:
        conn, reused = (self._idle.pop(), True) if self._idle else (await self._open(), False)
        try:
            return await self._exchange(conn, method, target, headers, body, reused)
        except _Stale:
            return await self._exchange(await self._open(), method, target, headers, body, False)

    async def _exchange(self, conn: _Conn, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                        reused: bool) -> Response:
        hdrs = [("host", self.authority), *headers]
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs.append(("content-length", str(len(body))))
        got_response = False
        try:
            out = conn.h11.send(h11.Request(method=method, target=target, headers=hdrs)) or b""
            if body:
                out += conn.h11.send(h11.Data(data=body)) or b""
            out += conn.h11.send(h11.EndOfMessage()) or b""
            conn.writer.write(out)
            await conn.writer.drain()
            status, resp_headers, chunks = 0, [], []
            while True:
                event = conn.h11.next_event()
                if event is h11.NEED_DATA:
                    data = await asyncio.wait_for(conn.reader.read(65536), self.timeout)
                    conn.h11.receive_data(data)
                elif isinstance(event, h11.Response):
                    got_response = True
                    status = event.status_code
                    resp_headers = [(k.decode().lower(), v.decode("latin-1")) for k, v in event.headers]
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("upstream closed the connection")
        except (ConnectionError, h11.RemoteProtocolError, OSError, TimeoutError) as exc:
            conn.close()
            if reused and not got_response:
                raise _Stale() from exc
            raise UpstreamError(f"upstream {self.authority}: {type(exc).__name__}: {exc}") from None
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE and len(self._idle) < self.max_idle:
            conn.h11.start_next_cycle()
            self._idle.append(conn)
        else:
            conn.close()
        return Response(status, b"".join(chunks), resp_headers)

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
