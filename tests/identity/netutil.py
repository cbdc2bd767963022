"""Run asyncio servers on a background loop so tests can call them with ordinary sync clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from intelsec.identity.httpserver import HttpServer, Request, Response, json_response


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)

        try:
            self.run(cancel_all(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


async def echo(request: Request) -> Response:
    """The upstream service: echoes what reached it, so tests see the identity headers."""
    return json_response(200, {"method": request.method, "path": request.target,
                               "headers": dict(request.headers), "body": request.body.decode()})


def start_server(lt: LoopThread, handler: Any, context: Any = lambda: None) -> tuple[HttpServer, str]:
    server = HttpServer(handler, context)
    host, port = lt.run(server.start("127.0.0.1", 0))
    return server, f"{host}:{port}"


def wait_for_output(stream: Any, text: str, max_lines: int = 20) -> str:
    """Read a child's stderr until `text` shows up (status lines may be wrapped by the console)."""
    seen = ""
    for _ in range(max_lines):
        line = stream.readline()
        if not line:
            break
        seen += line.rstrip("\n") + " "
        if text in seen.replace("\n", " ") or text in seen.replace(" ", ""):
            return seen
    raise AssertionError(f"{text!r} not in output: {seen!r}")
