"""A small HTTP/1.1 server over (m)TLS, built on asyncio streams and h11.

It exists because the identity code needs what ASGI servers do not expose: the verified peer
certificate of each connection, and a TLS context chosen per connection (so SVIDs rotate live).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h11

log = logging.getLogger(__name__)
MAX_BODY = 16 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    ssl_object: Any = None
    client: tuple[str, int] | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, data: Any) -> Response:
    import json

    return Response(status, (json.dumps(data) + "\n").encode(), [("content-type", "application/json")])


Handler = Callable[[Request], Awaitable[Response]]
ContextProvider = Callable[[], ssl.SSLContext | None]


class HttpServer:
    """Serve `handler` on host:port; `context()` gives the TLS context for each new connection."""

    def __init__(self, handler: Handler, context: ContextProvider, handshake_timeout: float = 10.0,
                 idle_timeout: float = 60.0, max_connections: int = 1024) -> None:
        self.handler = handler
        self.context = context
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.open_connections = 0
        self.handshake_failures = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        try:
            self._server = await asyncio.start_server(self._connection, host, port)
        except OSError as exc:
            from intelsec.errors import ConfigError

            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        sock = self._server.sockets[0].getsockname()
        return sock[0], sock[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open_connections >= self.max_connections:  # shed load instead of running out of descriptors
            writer.close()
            return
        self.open_connections += 1
        try:
            ctx = self.context()
            if ctx is not None:
                try:
                    await writer.start_tls(ctx, ssl_handshake_timeout=self.handshake_timeout)
                except (TimeoutError, ssl.SSLError, OSError) as exc:
                    self.handshake_failures += 1
                    log.info("TLS handshake refused: %s", type(exc).__name__)
                    return
            await self._serve(reader, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("connection handler failed")
        finally:
            self.open_connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        sslobj = writer.get_extra_info("ssl_object")
        peer = writer.get_extra_info("peername")
        while True:
            req: h11.Request | None = None
            body = bytearray()
            while True:
                try:
                    event = conn.next_event()
                except h11.RemoteProtocolError:
                    await self._send(writer, conn, Response(400, b"bad request\n"), close=True)
                    return
                if event is h11.NEED_DATA:
                    data = await asyncio.wait_for(reader.read(65536), self.idle_timeout)
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    req = event
                    if conn.they_are_waiting_for_100_continue:  # curl sends Expect: 100-continue for bodies
                        writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_BODY:
                        await self._send(writer, conn, Response(413, b"request body too large\n"), close=True)
                        return
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return
            assert req is not None
            request = Request(req.method.decode(), req.target.decode("latin-1"),
                              [(k.decode().lower(), v.decode("latin-1")) for k, v in req.headers], bytes(body),
                              sslobj, peer)
            try:
                response = await self.handler(request)
            except Exception:
                log.exception("handler failed")
                response = Response(500, b"internal error\n")
            await self._send(writer, conn, response)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, conn: h11.Connection, resp: Response, close: bool = False) -> None:
        headers = [(k, v) for k, v in resp.headers if k.lower() not in ("content-length", "transfer-encoding",
                                                                         "connection")]
        headers.append(("content-length", str(len(resp.body))))
        if close:
            headers.append(("connection", "close"))
        try:  # one write: one TLS record and one send for small responses
            out = conn.send(h11.Response(status_code=resp.status, headers=headers)) or b""
            if resp.body:
                out += conn.send(h11.Data(data=resp.body)) or b""
            out += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            return
        writer.write(out)
        await writer.drain()
