"""Overhead of the canary middleware on requests that are not canaries.

Peer: the same FastAPI app without the middleware. Requests are driven through the ASGI interface
in-process (no sockets), so the numbers isolate the middleware's own cost. Also measured: a
minimal raw ASGI app (where any overhead would show most) and a canary hit with a no-op sender.

    python benchmarks/deception_middleware.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from fastapi import FastAPI

from intelsec.deception.middleware import Canary, CanaryMiddleware


class NullSender:
    def submit(self, asset_id: str, key: str, fields: dict[str, Any]) -> None:
        pass


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v2/settlements")
    async def settlements() -> dict[str, list[int]]:
        return {"items": []}

    return app


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def scope(path: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
            "headers": [(b"host", b"svc"), (b"user-agent", b"bench")], "client": ("10.0.0.1", 5000),
            "server": ("svc", 80)}


async def drive(app: Any, path: str, n: int) -> float:
    sc = scope(path)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    for _ in range(min(200, n)):  # warm up
        await app(dict(sc), receive, send)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(n):
            await app(dict(sc), receive, send)
        return time.perf_counter() - start
    finally:
        gc.enable()


def best(app: Any, path: str, n: int, rounds: int) -> float:
    return min(asyncio.run(drive(app, path, n)) for _ in range(rounds))


def paired(bare: Any, wrapped: Any, path: str, n: int, rounds: int) -> tuple[float, float]:
    """Alternate bare and wrapped request by request, so machine noise hits both alike."""
    sc = scope(path)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run() -> tuple[float, float]:
        for _ in range(min(200, n)):
            await bare(dict(sc), receive, send)
            await wrapped(dict(sc), receive, send)
        t_bare = t_mw = 0
        clock = time.perf_counter_ns
        for i in range(n):
            for app in (bare, wrapped) if i % 2 else (wrapped, bare):
                t0 = clock()
                await app(dict(sc), receive, send)
                if app is bare:
                    t_bare += clock() - t0
                else:
                    t_mw += clock() - t0
        return t_bare / 1e9, t_mw / 1e9

    gc.collect()
    results = [asyncio.run(run()) for _ in range(rounds)]
    return min(r[0] for r in results), min(r[1] for r in results)


def touch_to_alert(n: int) -> None:
    """Latency from a signed beacon to its alert stored (the 202 is sent after the commit)."""
    import socket
    import statistics
    import tempfile
    import threading
    from pathlib import Path

    import uvicorn

    from intelsec.config import Workspace
    from intelsec.deception.client import BeaconClient
    from intelsec.deception.registry import Registry
    from intelsec.deception.spec import load_config
    from intelsec.server.app import create_app
    from intelsec.store.db import Database, upgrade
    from intelsec.workspace.scaffold import init_workspace

    with tempfile.TemporaryDirectory() as tmp:
        init_workspace(Path(tmp) / "ws")
        ws = Workspace.load(Path(tmp) / "ws")
        url = ws.database_url()
        upgrade(url)
        db = Database(url)
        cfg = load_config(ws)
        registry = Registry(db, state_dir=ws.state_dir)
        registry.deploy(cfg.assets, cfg.canary_base())
        asset = cfg.routes()[0].id
        key = registry.current(asset).key
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(ws, db, run_dispatcher=False), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        client = BeaconClient(f"http://127.0.0.1:{port}")
        lat = []
        for i in range(n):
            start = time.perf_counter()
            resp = client.send(asset, key, source_ip=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
            lat.append(time.perf_counter() - start)
            assert resp.status_code == 202 and resp.json()["status"] == "alerted"
        client.close()
        server.should_exit = True
        thread.join(10)
        lat.sort()
        print(f"touch -> alert stored (SQLite, {n} beacons from distinct sources): "
              f"p50 {statistics.median(lat) * 1000:.1f} ms, p99 {lat[int(0.99 * (n - 1))] * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run")
    args = parser.parse_args()
    n, rounds = (2_000, 3) if args.quick else (20_000, 7)
    canaries = [Canary(f"asset-{i}", f"/decoy/{i}/export", key="k" * 64) for i in range(100)]
    rows = []
    for label, bare in (("fastapi", fastapi_app()), ("raw-asgi", raw_app)):
        wrapped = CanaryMiddleware(bare, canaries, NullSender())
        t_bare, t_mw = paired(bare, wrapped, "/v2/settlements", n, rounds)
        rows.append((label, n / t_bare, n / t_mw, (t_mw - t_bare) / n * 1e9, t_mw / t_bare))
    hit = best(CanaryMiddleware(fastapi_app(), canaries, NullSender()), "/decoy/7/export", n, rounds)
    print(f"requests per run: {n}, best of {rounds}; 100 canary routes installed")
    print(f"{'app':<10} {'bare req/s':>12} {'with mw req/s':>14} {'overhead ns/req':>16} {'time ratio':>11}")
    for label, bare_rps, mw_rps, ns, ratio in rows:
        print(f"{label:<10} {bare_rps:>12,.0f} {mw_rps:>14,.0f} {ns:>16,.0f} {ratio:>11.3f}")
    print(f"canary hit (app's own 404 + beacon enqueue): {n / hit:,.0f} req/s")
    raw_ns, fastapi_ns = rows[1][3], 1e9 / rows[0][1]
    print(f"middleware cost per non-canary request: {raw_ns:,.0f} ns (raw ASGI) = "
          f"{raw_ns / fastapi_ns:.2%} of one FastAPI request ({fastapi_ns / 1000:,.0f} us)")
    touch_to_alert(50 if args.quick else 300)


if __name__ == "__main__":
    main()
