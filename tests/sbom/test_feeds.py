"""EPSS and KEV feeds: every published shape, the workspace cache, `feeds update` online (a local
HTTP server on 127.0.0.1 stands in for FIRST and CISA) and offline."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from intelsec.errors import InputError
from intelsec.sbom.feeds import load_epss, load_kev
from tests.clirunner import invoke
from tests.sbom.conftest import trivy_report, trivy_vuln, write_json

EPSS_CSV = b"#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000\ncve,epss,percentile\n" \
           b"CVE-2019-14806,0.01234,0.81\nCVE-2021-44228,0.94358,0.99970\n"


def test_feed_shapes(corpus_dir: Path, tmp_path: Path) -> None:
    f = corpus_dir / "sbom/findings"
    for path in (f / "cisa-kev-slice.json", f / "cisa-kev-slice.csv"):
        kev = load_kev(path)
        assert len(kev.kev) == 27 and "CVE-2021-44228" in kev.kev
    assert "CVE-2025-24989" in load_kev(f / "grype-vunnel-kev-records.json").kev
    assert load_epss(f / "grype-vunnel-epss-records.json").epss["CVE-2025-0108"] == (0.328, 0.9929)
    gz = tmp_path / "epss.csv.gz"
    gz.write_bytes(gzip.compress(EPSS_CSV))
    feed = load_epss(gz)
    assert feed.epss["CVE-2021-44228"] == (0.94358, 0.9997) and feed.version.startswith("model_version")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,score\nx,1\n")
    with pytest.raises(InputError, match="not an EPSS CSV"):
        load_epss(bad)
    bad.write_text("cve,epss,percentile\nCVE-1,high,0.1\n")
    with pytest.raises(InputError, match=r"bad.csv:2"):
        load_epss(bad)
    with pytest.raises(InputError, match=r"\[0\]: bad EPSS record for CVE-1"):
        load_epss(write_json(tmp_path / "e.json", [{"cve": "CVE-1", "epss": "high"}]))
    with pytest.raises(InputError, match="not a KEV"):
        load_kev(write_json(tmp_path / "k.json", {"foo": 1}))


class _Feeds(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = {"/epss.csv.gz": gzip.compress(EPSS_CSV),
                "/kev.json": json.dumps({"catalogVersion": "2025.08.25", "vulnerabilities": [
                    {"cveID": "CVE-2019-14806", "dateAdded": "2025-01-01", "dueDate": "2025-01-22"}]}).encode(),
                "/portal": b"<html><body>Please log in to the proxy</body></html>",
                }.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body or b"")


def test_update_online_then_offline_keeps_cache(workspace_dir: Path, tmp_path: Path, corpus_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    ws = str(workspace_dir)
    try:
        ok = invoke(capsys, "sbom", "feeds", "update", "-w", ws, "--epss-url", f"{base}/epss.csv.gz",
                    "--kev-url", f"{base}/kev.json")
        assert ok.code == 0, ok.err
        missing = invoke(capsys, "sbom", "feeds", "update", "-w", ws, "--epss-url", f"{base}/nope",
                         "--kev-url", f"{base}/kev.json")
        assert missing.code == 2 and "404" in missing.err
        portal = invoke(capsys, "sbom", "feeds", "update", "-w", ws, "--epss-url", f"{base}/portal",
                        "--kev-url", f"{base}/portal")
        assert portal.code == 2 and "not the expected feed" in portal.err and "still used" in portal.err
        assert sorted(p.name for p in (workspace_dir / ".intelsec/feeds").iterdir()) == [
            "epss_scores-current.csv.gz", "known_exploited_vulnerabilities.json"]
        assert (workspace_dir / ".intelsec/feeds/epss_scores-current.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    finally:
        server.shutdown()
        server.server_close()
    cache = workspace_dir / ".intelsec/feeds"
    old = time.time() - 3 * 86400
    for p in cache.iterdir():
        os.utime(p, (old, old))
    offline = invoke(capsys, "sbom", "feeds", "update", "-w", ws, "--epss-url", "http://127.0.0.1:9/epss.csv.gz",
                     "--kev-url", "http://127.0.0.1:9/kev.json", "--timeout", "2")
    assert offline.code == 2 and "cannot download" in offline.err and "3.0 days ago" in offline.err
    status = invoke(capsys, "sbom", "feeds", "status", "-w", ws)
    assert status.code == 0 and "3.0" in status.out
    # triage picks the cached feeds up without flags, and reports their age
    report = write_json(tmp_path / "t.json", trivy_report([trivy_vuln("CVE-2019-14806", "werkzeug", "0.11", "0.15.3")]))
    out = invoke(capsys, "sbom", "triage", "-w", ws, "--no-record", "--findings", str(report), "-f", "json")
    data = json.loads(out.out)
    v = data["vulnerabilities"][0]
    assert v["kev"] is True and v["epss"] == 0.01234
    assert data["summary"]["feeds"]["kev"]["age_days"] == 3.0
