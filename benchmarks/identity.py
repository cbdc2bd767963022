"""Identity benchmark: latency the mTLS sidecar adds over direct calls to the same upstream
(p50/p99, keep-alive and new connections), and X.509-SVID verifications per second against
cryptography's own path validator (which knows nothing of SPIFFE rules).

    python benchmarks/identity.py [--quick]

Upstream and sidecar run as separate processes; the client runs here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

UPSTREAM = """
import asyncio, sys
from pathlib import Path
from intelsec.identity.httpserver import HttpServer, Response
from intelsec.identity.sources import FileSource
from intelsec.identity.tlsconfig import server_context
async def ok(req):
    return Response(200, b"ok\\n", [("content-type", "text/plain")])
async def main():
    ctx = None
    if len(sys.argv) > 1:  # the same app terminating mTLS itself (no policy, no forwarding)
        ctx = server_context(FileSource(Path(sys.argv[1]), Path(sys.argv[2]), [Path(sys.argv[3])]).material())
    s = HttpServer(ok, lambda: ctx)
    host, port = await s.start("127.0.0.1", 0)
    print(port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(n: int, call) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = call()
        out.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise SystemExit(f"unexpected status {r.status_code}: {r.text[:200]}")
    return out


def latency(n: int, tmp: Path) -> None:
    from intelsec.identity.ca import LocalCA, write_svid
    from intelsec.identity.tlsconfig import Material, client_context, expect_id
    from intelsec.workspace.scaffold import init_workspace

    ca = LocalCA.init(tmp / "ca", "example.com")
    server_id, caller_id = "spiffe://example.com/bench/server", "spiffe://example.com/bench/client"
    files = write_svid(ca.issue_x509(server_id), ca.bundle(), tmp / "svid")
    init_workspace(tmp / "ws")
    up = subprocess.Popen([sys.executable, "-c", UPSTREAM], stdout=subprocess.PIPE, text=True)
    tls_up = subprocess.Popen([sys.executable, "-c", UPSTREAM, files["cert"], files["key"],
                               str(ca.directory / "bundle.json")], stdout=subprocess.PIPE, text=True)
    assert up.stdout is not None and tls_up.stdout is not None
    up_port, tls_port = int(up.stdout.readline()), int(tls_up.stdout.readline())
    port = free_port()
    side = subprocess.Popen([sys.executable, "-m", "intelsec", "identity", "sidecar", "--listen", f"127.0.0.1:{port}",
                             "--upstream", f"127.0.0.1:{up_port}", "--cert", files["cert"], "--key", files["key"],
                             "--bundle", str(ca.directory / "bundle.json"), "-w", str(tmp / "ws")],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert side.stderr is not None
        side.stderr.readline()
        svid = ca.issue_x509(caller_id)
        m = Material(caller_id, svid.chain_pem(), svid.key_pem(), {"example.com": ca.bundle()})
        ctx = client_context(m, expect_id(server_id))
        direct_url, side_url = f"http://127.0.0.1:{up_port}/", f"https://127.0.0.1:{port}/"
        tls_url = f"https://127.0.0.1:{tls_port}/"
        rows = []
        with httpx.Client(timeout=10) as d, httpx.Client(verify=ctx, timeout=10) as s:
            timed(50, lambda: d.get(direct_url))
            timed(50, lambda: s.get(side_url))
            timed(50, lambda: s.get(tls_url))
            rows.append(("keep-alive", timed(n, lambda: d.get(direct_url)), timed(n, lambda: s.get(side_url))))
            rows.append(("keep-alive*", timed(n, lambda: s.get(tls_url)), timed(n, lambda: s.get(side_url))))
        nn = max(50, n // 4)
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=fresh) as d, httpx.Client(verify=ctx, timeout=10, limits=fresh) as s:
            rows.append(("new connection", timed(nn, lambda: d.get(direct_url)), timed(nn, lambda: s.get(side_url))))
            rows.append(("new connection*", timed(nn, lambda: s.get(tls_url)), timed(nn, lambda: s.get(side_url))))
        print(f"{'mode':<17}{'direct p50':>12}{'direct p99':>12}{'sidecar p50':>13}{'sidecar p99':>13}"
              f"{'added p50':>11}{'added p99':>11}  (ms)")
        for name, d_l, s_l in rows:
            print(f"{name:<17}{pct(d_l, 50):>12.3f}{pct(d_l, 99):>12.3f}{pct(s_l, 50):>13.3f}{pct(s_l, 99):>13.3f}"
                  f"{pct(s_l, 50) - pct(d_l, 50):>11.3f}{pct(s_l, 99) - pct(d_l, 99):>11.3f}")
            print(f"{'':<17}sidecar/direct p50 ratio: {pct(s_l, 50) / pct(d_l, 50):.2f}x   "
                  f"throughput direct {len(d_l) / sum(d_l):.0f}/s, via sidecar {len(s_l) / sum(s_l):.0f}/s")
        print("* baseline is the same upstream terminating mTLS itself (so the difference is the sidecar's "
              "policy + forwarding, not TLS)")
    finally:
        for p in (side, up, tls_up):
            p.terminate()
            p.wait(10)


def verifications(n: int, tmp: Path) -> None:
    from cryptography.x509.verification import PolicyBuilder, Store

    from intelsec.identity.ca import LocalCA
    from intelsec.identity.verify import verify_x509_svid

    ca = LocalCA.init(tmp / "vca", "example.com", intermediate=True)
    svid = ca.issue_x509("spiffe://example.com/bench/svc")
    bundle, now = ca.bundle(), ca.clock.now()
    assert verify_x509_svid(svid.chain, bundle, now).valid
    from intelsec.identity import verify as verify_mod

    t = time.perf_counter()
    for _ in range(n):
        verify_x509_svid(svid.chain, bundle, now)
    ours = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n):
        verify_mod._SIGNED.clear()
        verify_x509_svid(svid.chain, bundle, now)
    cold = n / (time.perf_counter() - t)
    verifier = PolicyBuilder().store(Store([ca.root])).build_client_verifier()
    t = time.perf_counter()
    for _ in range(n):
        verifier.verify(svid.leaf, svid.chain[1:])
    peer = n / (time.perf_counter() - t)
    print(f"X.509-SVID verifications/s (leaf + intermediate, all SPIFFE rules): {ours:,.0f}"
          f"  (CA link cache cold: {cold:,.0f})")
    print(f"cryptography PolicyBuilder client verifier (path only):            {peer:,.0f}")
    print(f"ratio ours/cryptography: {ours / peer:.2f}x (cold {cold / peer:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small run for development")
    args = ap.parse_args()
    n = 200 if args.quick else 2000
    os.environ.setdefault("RUST_BACKTRACE", "0")
    with tempfile.TemporaryDirectory() as d:
        print(f"sidecar latency, {n} requests per keep-alive series ({os.cpu_count()} CPUs)")
        latency(n, Path(d))
        print()
        verifications(n * 2, Path(d))


if __name__ == "__main__":
    main()
