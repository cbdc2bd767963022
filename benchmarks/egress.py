"""Egress benchmark: decision throughput of `egress eval` and the proxy's cost against direct connections.

Part 1 judges a realistic flow mix (Zipf-distributed destinations across namespaces, a third
in-cluster, some replies, categorised and unknown names, raw IPs) on one core, and compares with
asking Rego for every flow (the peer: no categoriser cache, no memo).
Part 2 runs a local upstream HTTP server and `intelsec egress proxy` as separate processes and
measures, in the same run: per-request latency with a new connection each time (direct vs through
the proxy), request rate with concurrent clients, and bulk bytes through a CONNECT tunnel.

    python benchmarks/egress.py            # full run
    python benchmarks/egress.py --quick    # small run
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from intelsec.config import Workspace
from intelsec.egress.decide import EgressDecider
from intelsec.egress.evaluate import Summary, run
from intelsec.egress.models import Flow, ReadStats
from intelsec.egress.readers import read_flows
from intelsec.workspace.scaffold import init_workspace

UPSTREAM = textwrap.dedent(
    """
    import asyncio, sys
    BLOCK = b"x" * 65536
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                path = head.split(b" ", 2)[1]
                size = int(path.rsplit(b"/", 1)[1]) if path.startswith(b"/size/") else 2
                close = b"connection: close" in head.lower()
                writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n%s\\r\\n"
                             % (size, b"Connection: close\\r\\n" if close else b""))
                while size > 0:
                    writer.write(BLOCK[: min(size, len(BLOCK))])
                    size -= len(BLOCK)
                    await writer.drain()
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
        async with server:
            await server.serve_forever()
    asyncio.run(main())
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_workspace(root: Path) -> Workspace:
    init_workspace(root)
    namespaces = {f"team-{i}": [f"api.vendor{j}.com" for j in range(i % 7, i % 7 + 5)] for i in range(30)}
    namespaces["bench"] = ["bench.test"]
    lines = ["namespaces:"] + [f"  {ns}: [{', '.join(v)}]" for ns, v in namespaces.items()]
    (root / "egress" / "allowlist.yaml").write_text("\n".join(lines) + "\n")
    enf = root / "egress" / "enforcement.yaml"
    enf.write_text(enf.read_text().replace("sources: []", "sources:\n  - cidr: 127.0.0.0/8\n    namespace: bench"))
    return Workspace.load(root)


def flow_mix(n: int, seed: int = 7) -> list[Flow]:
    """Workloads talk to a stable set of destinations: each namespace draws its ~40 from a shared
    Zipf-popular pool, then flows repeat them; plus in-cluster traffic to ~2k pod IPs, replies and
    raw external IPs."""
    rnd = random.Random(seed)
    hosts = (
        [f"api.vendor{j}.com" for j in range(40)]
        + [f"cdn{j}.unknown-{j % 300}.net" for j in range(3000)]
        + ["pastebin.com", "a.pastebin.com", "torproject.org", "wetransfer.com", "pypi.org", "files.pythonhosted.org"]
    )
    weights = [1 / (i + 1) ** 1.1 for i in range(len(hosts))]
    rnd.shuffle(weights)
    per_ns = {f"team-{i}": rnd.choices(hosts, weights, k=40) for i in range(30)}
    ns_weights = [1 / (i + 1) ** 1.1 for i in range(40)]
    pods = [f"10.{rnd.randrange(4)}.{rnd.randrange(256)}.{rnd.randrange(256)}" for _ in range(2048)]
    flows: list[Flow] = []
    for _ in range(n):
        ns = f"team-{rnd.randrange(30)}"
        r = rnd.random()
        if r < 0.30:
            flows.append(
                Flow(
                    src_ns=ns,
                    dst_ip=rnd.choice(pods),
                    dst_port=8080,
                    direction="egress",
                )
            )
        elif r < 0.35:
            flows.append(Flow(src_ns=ns, dst_ip="52.1.2.3", dst_port=443, reply=True))
        elif r < 0.40:
            flows.append(Flow(src_ns=ns, dst_ip=f"203.0.113.{rnd.randrange(64)}", dst_port=443, direction="egress"))
        else:
            host = rnd.choices(per_ns[ns], ns_weights)[0]
            flows.append(Flow(src_ns=ns, dst_host=host, dst_port=443 if rnd.random() < 0.8 else 80, direction="egress"))
    return flows


def bench_eval(ws: Workspace, n: int, tmp: Path) -> dict[str, float]:
    flows = flow_mix(n)
    decider = EgressDecider(ws, env="prod")
    summary = Summary(decider.env, decider.digest)
    start = time.perf_counter()
    run(flows, decider, summary)
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    # Peer: Rego for every flow, no memo (what a naive OPA-per-flow integration does).
    sample = [f for f in flows if f.dst_host][:2000]
    peer = EgressDecider(ws, env="prod")
    start = time.perf_counter()
    for f in sample:
        peer._evaluate(f.src_ns or "x", f.dst_host, f.dst_ip, f.dst_port, peer.categorizer.categorize(f.dst_host))
    peer_rate = len(sample) / (time.perf_counter() - start)
    # End to end from a Hubble JSON file: parsing included.
    hubble = tmp / "hubble.jsonl"
    with hubble.open("w") as fh:
        for f in flows[: min(n, 100_000)]:
            ip = f.dst_ip or "52.0.0.1"
            fh.write(
                json.dumps(
                    {
                        "flow": {
                            "time": "2024-01-01T00:00:00Z",
                            "verdict": "FORWARDED",
                            "IP": {"source": "10.9.0.1", "destination": ip},
                            "l4": {"TCP": {"source_port": 40000, "destination_port": f.dst_port}},
                            "source": {"namespace": f.src_ns, "pod_name": "p"},
                            "destination": {"namespace": "shared", "pod_name": "svc", "labels": ["k8s:app=svc"]}
                            if ip.startswith("10.")
                            else {"labels": ["reserved:world"]},
                            "destination_names": [f.dst_host] if f.dst_host else [],
                            "traffic_direction": "EGRESS",
                            "is_reply": f.reply,
                        }
                    }
                )
                + "\n"
            )
    stats = ReadStats()
    e2e = EgressDecider(ws, env="prod")
    s2 = Summary(e2e.env, e2e.digest)
    start = time.perf_counter()
    run(read_flows([hubble], stats), e2e, s2)
    e2e_rate = stats.flows / (time.perf_counter() - start)
    return {
        "flows": n,
        "decisions_per_s": rate,
        "rego_evaluations": decider.evaluations,
        "peer_rego_per_flow_per_s": peer_rate,
        "ratio_vs_rego_per_flow": rate / peer_rate,
        "hubble_end_to_end_per_s": e2e_rate,
        "verdicts": dict(summary.verdicts),
    }  # type: ignore[dict-item]


def _request(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(payload)
        chunks = []
        while data := s.recv(262144):
            chunks.append(data)
    return b"".join(chunks)


def _latencies(port: int, payload: bytes, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t = time.perf_counter()
        body = _request(port, payload)
        out.append(time.perf_counter() - t)
        assert body.startswith(b"HTTP/1.1 200"), body[:200]
    return out


def _rate(port: int, payload: bytes, count: int, workers: int) -> float:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for body in pool.map(lambda _: _request(port, payload), range(count)):
            assert body.startswith(b"HTTP/1.1 200"), body[:200]
    return count / (time.perf_counter() - start)


def _bulk(port: int, size: int, tunnel_to: int | None) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        if tunnel_to is not None:
            s.sendall(f"CONNECT bench.test:{tunnel_to} HTTP/1.1\r\n\r\n".encode())
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        start = time.perf_counter()
        s.sendall(f"GET /size/{size} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n".encode())
        got = 0
        while data := s.recv(1 << 20):
            got += len(data)
        elapsed = time.perf_counter() - start
    assert got >= size
    return size / elapsed / 1e6


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def bench_proxy(ws: Workspace, quick: bool) -> dict[str, float]:
    up_port, proxy_port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port)], stderr=subprocess.PIPE)
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intelsec",
            "egress",
            "proxy",
            "--listen",
            f"127.0.0.1:{proxy_port}",
            "-w",
            str(ws.root),
            "--env",
            "staging",
            "--resolve",
            "bench.test:127.0.0.1",
            "--no-alerts",
            "--grace",
            "1",
        ],
        stderr=subprocess.PIPE,
    )
    try:
        _wait_port(up_port, upstream)
        _wait_port(proxy_port, proxy)
        count = 200 if quick else 1000
        direct_req = b"GET /size/1024 HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n"
        proxied_req = (
            f"GET http://bench.test:{up_port}/size/1024 HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n"
        ).encode()
        _latencies(up_port, direct_req, 20)
        _latencies(proxy_port, proxied_req, 20)
        direct = _latencies(up_port, direct_req, count)
        proxied = _latencies(proxy_port, proxied_req, count)
        d50, p50 = statistics.median(direct), statistics.median(proxied)
        d99 = statistics.quantiles(direct, n=100)[98]
        p99 = statistics.quantiles(proxied, n=100)[98]
        rate_direct = _rate(up_port, direct_req, count, 8)
        rate_proxy = _rate(proxy_port, proxied_req, count, 8)
        size = (32 if quick else 256) * 1024 * 1024
        bulk_direct = _bulk(up_port, size, None)
        bulk_proxy = _bulk(proxy_port, size, up_port)
        return {
            "requests": count,
            "direct_p50_ms": d50 * 1e3,
            "proxy_p50_ms": p50 * 1e3,
            "added_p50_ms": (p50 - d50) * 1e3,
            "direct_p99_ms": d99 * 1e3,
            "proxy_p99_ms": p99 * 1e3,
            "direct_req_per_s": rate_direct,
            "proxy_req_per_s": rate_proxy,
            "req_rate_ratio": rate_proxy / rate_direct,
            "bulk_direct_MBps": bulk_direct,
            "bulk_tunnel_MBps": bulk_proxy,
            "bulk_ratio": bulk_proxy / bulk_direct,
        }
    finally:
        for p in (proxy, upstream):
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run")
    parser.add_argument("--flows", type=int, default=None)
    args = parser.parse_args()
    n = args.flows or (100_000 if args.quick else 1_000_000)
    os.environ.setdefault("RUST_BACKTRACE", "0")
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "controls")
        ev = bench_eval(ws, n, Path(tmp))
        print(
            f"eval: {ev['flows']:,} flows, {ev['decisions_per_s']:,.0f} decisions/s on one core "
            f"(goal 200,000), {ev['rego_evaluations']:,} Rego evaluations; verdicts {ev['verdicts']}"
        )
        print(
            f"  peer (Rego per flow, no memo): {ev['peer_rego_per_flow_per_s']:,.0f} decisions/s -> "
            f"ratio {ev['ratio_vs_rego_per_flow']:.0f}x"
        )
        print(f"  end to end from Hubble JSON (parse + decide): {ev['hubble_end_to_end_per_s']:,.0f} flows/s")
        px = bench_proxy(ws, args.quick)
        print(
            f"proxy: {px['requests']} requests, new connection each: direct p50 {px['direct_p50_ms']:.2f} ms "
            f"p99 {px['direct_p99_ms']:.2f} ms; via proxy p50 {px['proxy_p50_ms']:.2f} ms "
            f"p99 {px['proxy_p99_ms']:.2f} ms; added p50 {px['added_p50_ms']:.2f} ms"
        )
        print(
            f"  8 concurrent clients: direct {px['direct_req_per_s']:,.0f} req/s, via proxy "
            f"{px['proxy_req_per_s']:,.0f} req/s -> ratio {px['req_rate_ratio']:.2f}"
        )
        print(
            f"  bulk: direct {px['bulk_direct_MBps']:,.0f} MB/s, CONNECT tunnel {px['bulk_tunnel_MBps']:,.0f} MB/s "
            f"-> ratio {px['bulk_ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
