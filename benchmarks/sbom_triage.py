"""SBOM triage benchmark: `triage()` of a big syft SBOM plus findings, against plain `json.loads`
of the same input files, measured in the same run (goal: triage within 3x of parsing).

The SBOM is made by the real syft binary over this machine's root filesystem (pseudo and scratch
folders excluded: thousands of deb, Go, Java and Python packages), cached under the temp dir
between runs; `--quick` uses the corpus' syft SBOM of a Debian image (or syft over one Python
package directory when the corpus is absent). Findings are a Trivy JSON
report (schema v2) with one vulnerability for every 10th deb/Java/Go/PyPI package of the SBOM,
plus the Grype and osv-scanner reports of the shared corpus when present.

    python benchmarks/sbom_triage.py            # full run
    python benchmarks/sbom_triage.py --quick    # small run (syft over one package directory)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from intelsec.sbom.triage import triage

EXCLUDES = ["./proc/**", "./sys/**", "./dev/**", "./tmp/**", "./work/**", "./root/.cache/**", "./var/tmp/**",
            "./opt/pypi/**", "./opt/pypi-more/**", "./opt/wheels/**"]  # package mirrors, not installed software
CORPUS = Path(os.environ.get("INTELSEC_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def make_sbom(target: Path, out: Path) -> Path:
    if out.is_file():
        return out
    env = {"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir(),
           "SYFT_CHECK_FOR_APP_UPDATE": "false", "SYFT_FILE_METADATA_SELECTION": "none"}
    t = time.perf_counter()
    excludes = [a for d in EXCLUDES for a in ("--exclude", d)] if str(target) == "/" else []
    subprocess.run(["syft", f"dir:{target}", "-q", *excludes, "-o", f"syft-json={out}"], check=True, env=env,
                   timeout=1800)
    print(f"syft over {target}: {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return out


def make_findings(sbom: Path, out: Path) -> Path:
    data = json.loads(sbom.read_bytes())
    vulns = []
    for i, a in enumerate(data["artifacts"]):
        if i % 10 or a.get("type") not in ("python", "go-module", "java-archive", "deb") or not a.get("version"):
            continue
        vulns.append({"VulnerabilityID": f"CVE-2099-{10000 + i}", "PkgName": a["name"],
                      "InstalledVersion": a["version"],
                      "PkgIdentifier": {"PURL": a.get("purl")}, "FixedVersion": a["version"] + ".1",
                      "Status": "fixed", "Severity": "HIGH", "CweIDs": ["CWE-400"],
                      "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}}})
    out.write_text(json.dumps({"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem",
                               "Results": [{"Target": "site-packages", "Type": "python-pkg",
                                            "Vulnerabilities": vulns}]}))
    return out


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--target", type=Path, help="directory for syft (default: /)")
    args = ap.parse_args()
    site = Path(sysconfig.get_paths()["purelib"])
    target = args.target or (site / "pip" if args.quick else Path("/"))
    work = Path(tempfile.gettempdir()) / "intelsec-sbom-bench"
    work.mkdir(exist_ok=True)
    tag = "quick" if args.quick and not args.target else (target.name or "rootfs")
    corpus_sbom = CORPUS / "sbom/sboms/gen-syft-debian12-dpkg.syft.json.gz"
    if args.quick and not args.target and corpus_sbom.is_file():  # syft output of 710 Debian packages
        sbom = work / "quick-debian.syft.json"
        sbom.write_bytes(gzip.decompress(corpus_sbom.read_bytes()))
    else:
        sbom = make_sbom(target, work / f"{tag}.syft.json")
    findings = [make_findings(sbom, work / f"{tag}.trivy.json")]
    findings += [p for p in (CORPUS / "sbom/findings/dojo-grype-rpm-java-issue9618.json",
                             CORPUS / "sbom/findings/dojo-osv-scanner-pypi-packagist.json") if p.is_file()]
    inputs = [sbom, *findings]
    repeat = 3 if args.quick else 5

    def parse_only() -> None:
        for p in inputs:
            json.loads(p.read_bytes())

    result = triage([sbom], findings)
    t_parse = best_of(parse_only, repeat)
    t_triage = best_of(lambda: triage([sbom], findings), repeat)
    size = sum(p.stat().st_size for p in inputs)
    s = result.summary
    print(f"inputs: {len(inputs)} files, {size / 1e6:.1f} MB; SBOM packages {s['packages']}, "
          f"findings {s['findings_read']}, vulnerabilities {s['vulnerabilities']}, "
          f"plans {s['plans']['pr'] + s['plans']['ticket']}")
    print(f"json.loads only : {t_parse * 1000:8.1f} ms  ({size / 1e6 / t_parse:6.1f} MB/s)")
    print(f"intelsec triage : {t_triage * 1000:8.1f} ms  ({s['packages'] / t_triage:8.0f} packages/s)")
    print(f"ratio triage / json.loads = {t_triage / t_parse:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
