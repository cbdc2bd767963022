"""Readers over the shared corpus, over fresh syft output, and over bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from intelsec.errors import InputError
from intelsec.sbom.readers import load_document, parse_bytes

# Files in the corpus that are not SBOMs/findings reports: each must be named clearly, not crash.
NOT_REPORTS = {
    "cisa-kev-slice.csv": "CSV", "cisa-kev-slice.json": "KEV catalog", "kev-schema.json": "JSON Schema",
    "grype-vunnel-epss-records.json": "EPSS/KEV records", "grype-vunnel-kev-records.json": "EPSS/KEV records",
    "dojo-npm-audit-v7.json": "npm audit", "osv-scanner-fix-in-place-npm.json": "osv-scanner fix plan",
    "osv-scanner-fix-override-maven.json": "osv-scanner fix plan",
    "osv-scanner-fix-relax-npm.json": "osv-scanner fix plan",
}


def _corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in (corpus_dir / "sbom").rglob("*") if p.is_file() and p.name != "SOURCES.md")


def test_every_corpus_file_parses_or_is_named(corpus_dir: Path) -> None:
    files = _corpus_files(corpus_dir)
    assert len(files) > 80
    parsed = 0
    for path in files:
        if path.name in NOT_REPORTS:
            with pytest.raises(InputError) as err:
                load_document(path)
            assert str(err.value).startswith(str(path)) and NOT_REPORTS[path.name] in str(err.value)
            continue
        doc = load_document(path)
        parsed += 1
        assert doc.packages or doc.findings or path.name.startswith("gen-trivy-dockerfile"), path.name
        for f in doc.findings:
            assert f.vuln_id and f.package and f.element, (path.name, f)
        for p in doc.packages:
            assert p.name and p.ecosystem, (path.name, p)
    assert parsed >= 60


@pytest.mark.parametrize(("name", "fmt", "packages", "findings"), [
    ("sboms/gen-syft-debian12-dpkg.syft.json.gz", "syft-json", 710, 0),
    ("sboms/gen-syft-probe-sitepackages.spdx23.json.gz", "spdx-json", 232, 0),
    ("sboms/gen-syft-rootfs-large.cdx16.json.gz", "cyclonedx-json", 4213, 0),
    ("sboms/spdx-spec-example-v2.2.spdx.json", "spdx-json", 4, 0),
    ("findings/trivy-pip.json", "trivy-json", 7, 2),
    ("findings/trivy-alpine-3.10.sarif", "sarif", 0, 4),
    ("findings/osv-scanner-npm.sarif", "sarif", 0, 1),
    ("findings/dojo-grype-rpm-java-issue9618.json", "grype-json", 0, 35),
    ("findings/osv-scanner-go-cargo.json", "osv-scanner-json", 0, 4),
    ("findings/dojo-grype-log4j.vulns.cdx14.json", "cyclonedx-json", 1, 8),
    ("findings/dojo-pip-audit-new.json", "pip-audit-json", 6, 7),
    ("findings/dojo-govulncheck-stream.json.gz", "govulncheck-json", 0, 116),
    ("sboms/cdx-laravel-7.12.0.cdx14.xml", "cyclonedx-xml", 62, 0),  # same as its JSON twin
    ("sboms/gen-syft-probe-sitepackages.cdx16.xml", "cyclonedx-xml", 231, 0),
    ("sboms/spdx-spec-example-v3.0.jsonld", "spdx3-jsonld", 1, 0),
])
def test_known_counts(corpus_dir: Path, name: str, fmt: str, packages: int, findings: int) -> None:
    doc = load_document(corpus_dir / "sbom" / name)
    assert doc.format.startswith(fmt)
    assert (len(doc.packages), len(doc.findings)) == (packages, findings)


def test_detection_is_by_content_not_name(corpus_dir: Path, tmp_path: Path) -> None:
    src = corpus_dir / "sbom" / "findings" / "trivy-pip.json"
    disguised = tmp_path / "report.sarif"
    disguised.write_bytes(src.read_bytes())
    assert load_document(disguised).format == "trivy-json"


def test_fields_are_normalised(corpus_dir: Path) -> None:
    doc = load_document(corpus_dir / "sbom" / "findings" / "trivy-pip.json")
    f = next(x for x in doc.findings if x.vuln_id == "CVE-2019-14806")
    assert (f.package, f.version, f.ecosystem, f.fixed_versions) == ("Werkzeug", "0.11", "pypi", ["0.15.3"])
    assert f.cwes == ["CWE-331"] and f.cvss and f.cvss[0].score == 7.5  # computed by the cvss library
    osv = load_document(corpus_dir / "sbom" / "findings" / "osv-scanner-go-cargo.json")
    g = next(x for x in osv.findings if x.vuln_id == "GHSA-c3h9-896r-86jm")
    assert g.aliases == ["CVE-2021-3121"] and g.fixed_versions == ["1.3.2"]
    sarif = load_document(corpus_dir / "sbom" / "findings" / "osv-scanner-npm.sarif").findings[0]
    assert (sarif.vuln_id, sarif.package, sarif.version, sarif.aliases, sarif.fixed_versions) == (
        "CVE-2021-23424", "ansi-html", "0.0.1", ["GHSA-whgm-jr23-g3j9"], ["0.0.8"])


def test_sbom_graph_edges(corpus_dir: Path) -> None:
    doc = load_document(corpus_dir / "sbom" / "sboms" / "gen-syft-probe-sitepackages.syft.json.gz")
    names = {p.ref: p.name for p in doc.packages}
    assert ("cffi", "pycparser") in {(names.get(a), names.get(b)) for a, b in doc.edges}


@pytest.mark.parametrize(("content", "needle"), [
    (b'{"spdxVersion": "SPDX-2.3", "packages": [', "truncated JSON"),
    (b'{"hello": "world"}', "unknown format"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
    (b"<html><body>not a bom</body></html>", "not a CycloneDX BOM"),
    (b"<?xml version='1.0'?><!DOCTYPE bom [<!ENTITY a 'aaaa'>]><bom xmlns='http://cyclonedx.org/schema/bom/1.5'/>",
     "DTD"),
    (b"<bom xmlns='http://cyclonedx.org/schema/bom/1.5'><components>", "invalid XML"),
    (b"\xff\xfe\x00\x01", "invalid JSON"),
    (b'{"SchemaVersion": 2, "Results": [{"Type": "pip", "Vulnerabilities": [{"VulnerabilityID": "CVE-2020-1", '
     b'"PkgName": "b", "InstalledVersion": "1.0", "PkgIdentifier": {"PURL": 5}}]}]}', "malformed trivy-json"),
])
def test_bad_input_names_the_file(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_document(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_bad_elements_are_reported_and_rest_kept() -> None:
    data = {"SchemaVersion": 2, "Results": [{"Type": "pip", "Vulnerabilities": [
        {"PkgName": "a"}, {"VulnerabilityID": "CVE-2020-1", "PkgName": "b", "InstalledVersion": "1.0"}]}]}
    doc = parse_bytes(json.dumps(data).encode(), "r.json")
    assert len(doc.findings) == 1 and len(doc.problems) == 1
    assert "Results[0].Vulnerabilities[0]" in str(doc.problems[0])


def test_real_syft_output_parses_in_three_formats(tmp_path: Path) -> None:
    """Generate SBOMs with the real syft binary over a small Python project and read all three."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "requirements.txt").write_text("requests==2.19.0\nurllib3==1.23\n")
    out = {k: tmp_path / f"sbom.{k}" for k in ("spdx-json", "cyclonedx-json", "syft-json")}
    cmd = ["syft", f"dir:{proj}", "-q", *[a for k, p in out.items() for a in ("-o", f"{k}={p}")]]
    subprocess.run(cmd, check=True, timeout=120, env={"SYFT_CHECK_FOR_APP_UPDATE": "false", "PATH": _path()})
    for kind, path in out.items():
        doc = load_document(path)
        assert doc.format.startswith(kind)
        assert {(p.name.lower(), p.version, p.ecosystem) for p in doc.packages} >= {
            ("requests", "2.19.0", "pypi"), ("urllib3", "1.23", "pypi")}
    gz = tmp_path / "sbom.json.gz"
    gz.write_bytes(gzip.compress(out["syft-json"].read_bytes()))
    assert len(load_document(gz).packages) == len(load_document(out["syft-json"]).packages)


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


def test_trivy_rustsec_ranges_keep_only_fixes(corpus_dir: Path) -> None:
    """Trivy writes RustSec patched ranges (`>= 3.1.0, >= 2.1.3, < 3.0.0`): the upper bound is no fix."""
    doc = load_document(corpus_dir / "sbom" / "findings" / "trivy-test-repo-cargo.json")
    assert sorted(f.fixed_versions for f in doc.findings) == [["2.1.0"], ["3.1.0", "2.1.3"]]


def test_cyclonedx_affects_purl_gives_name_and_unescaped_version(corpus_dir: Path) -> None:
    doc = load_document(corpus_dir / "sbom" / "findings" / "dojo-trivy-ubuntu.vulns.cdx15.json")
    tar = [f for f in doc.findings if f.purl and f.purl.startswith("pkg:deb/debian/tar@")]
    assert tar and all((f.package, f.version) == ("tar", "1.30+dfsg-6") for f in tar)
    assert not any("not a valid" in str(p) for p in doc.problems)
