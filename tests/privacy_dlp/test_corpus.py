"""Real-world data from the shared corpus: SBOMs (minified, gzipped), CloudTrail, flow logs."""

from __future__ import annotations

from pathlib import Path

from intelsec.privacy.dlp.detectors import BUILTINS
from intelsec.privacy.dlp.files import FileScanner
from intelsec.privacy.dlp.scanner import Scanner
from tests.privacy_dlp.test_cli_scan import scan_json


def test_scan_whole_corpus_without_problems(corpus_dir: Path) -> None:
    doc, r = scan_json(str(corpus_dir), "--fail-on", "none", cwd=corpus_dir)
    assert r.returncode == 0, r.stderr
    s = doc["summary"]
    assert s["files_scanned"] > 50 and s["problems"] == []
    keys = [f for f in doc["findings"] if f["detector"] == "aws_access_key_id"]
    assert keys and all("cloudtrail" in f["path"] for f in keys)  # accessKeyId fields of CloudTrail events


def test_engines_agree_on_real_logs(corpus_dir: Path) -> None:
    logs = [p for p in sorted((corpus_dir / "sigma").rglob("*.json")) if "cloudtrail" in p.name][:20]
    logs += sorted(p for p in (corpus_dir / "hubble").rglob("*") if p.is_file())
    assert logs

    def run(engine: str) -> list[tuple]:
        fs = FileScanner(Scanner(BUILTINS, engine))
        return [(f.path, f.line, f.start, f.end, f.detector) for f in fs.scan_paths(logs)]

    hs = run("hyperscan")
    assert hs and hs == run("re")
