"""Helpers for the SBOM tests: small real-format reports and syft runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def run_syft(target: Path, out_dir: Path) -> dict[str, Path]:
    """Run the real syft binary offline over `target` and return the three JSON outputs."""
    out = {k: out_dir / f"sbom.{k}.json" for k in ("spdx-json", "cyclonedx-json", "syft-json")}
    cmd = ["syft", f"dir:{target}", "-q", *[a for k, p in out.items() for a in ("-o", f"{k}={p}")]]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(out_dir),
           "SYFT_CHECK_FOR_APP_UPDATE": "false", "SYFT_FILE_METADATA_SELECTION": "none"}
    subprocess.run(cmd, check=True, timeout=180, env=env)
    return out


def trivy_report(vulns: list[dict[str, Any]], rtype: str = "pip") -> dict[str, Any]:
    """A Trivy JSON (schema v2) report with the fields Trivy writes."""
    return {"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem",
            "Results": [{"Target": "requirements.txt", "Class": "lang-pkgs", "Type": rtype, "Vulnerabilities": vulns}]}


def trivy_vuln(vid: str, name: str, installed: str, fixed: str, severity: str = "HIGH",
               vector: str | None = None) -> dict[str, Any]:
    v: dict[str, Any] = {"VulnerabilityID": vid, "PkgName": name, "InstalledVersion": installed, "FixedVersion": fixed,
                         "Status": "fixed" if fixed else "affected", "Severity": severity, "CweIDs": ["CWE-79"],
                         "References": [f"https://nvd.nist.gov/vuln/detail/{vid}"]}
    if vector:
        v["CVSS"] = {"nvd": {"V3Vector": vector}}
    return v


def grype_report(matches: list[dict[str, Any]]) -> dict[str, Any]:
    return {"matches": matches, "source": {"type": "directory", "target": "."},
            "descriptor": {"name": "grype", "version": "0.94.0"}}


def grype_match(vid: str, related: list[str], name: str, version: str, fixed: list[str], kind: str = "python",
                purl: str | None = None) -> dict[str, Any]:
    return {"vulnerability": {"id": vid, "severity": "Medium", "fix": {"versions": fixed, "state": "fixed"},
                              "urls": [], "cvss": []},
            "relatedVulnerabilities": [{"id": r, "cvss": []} for r in related],
            "artifact": {"name": name, "version": version, "type": kind, "purl": purl, "locations": []}}
