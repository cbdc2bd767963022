"""Triage: de-duplication, enrichment, ranking and fix plans over real and hand-made reports."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from univers.version_range import RANGE_CLASS_BY_SCHEMES

from intelsec.errors import InputError
from intelsec.sbom.ecosystems import major, parse_version
from intelsec.sbom.feeds import load_epss, load_kev
from intelsec.sbom.models import Vulnerability
from intelsec.sbom.plans import plan_package
from intelsec.sbom.ranking import risk
from intelsec.sbom.triage import triage
from tests.sbom.conftest import grype_match, grype_report, run_syft, trivy_report, trivy_vuln, write_json

CVSS_CRIT = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _epss(tmp_path: Path, rows: dict[str, float]) -> Path:
    body = "#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000\ncve,epss,percentile\n"
    body += "".join(f"{c},{p},{min(0.99999, p + 0.5)}\n" for c, p in rows.items())
    path = tmp_path / "epss.csv.gz"
    path.write_bytes(gzip.compress(body.encode()))
    return path


def test_same_vuln_from_two_scanners_and_aliases_is_one(tmp_path: Path) -> None:
    trivy = write_json(tmp_path / "t.json",
                       trivy_report([trivy_vuln("CVE-2023-32681", "requests", "2.25.1", "2.31.0")]))
    grype = write_json(tmp_path / "g.json", grype_report([grype_match(
        "GHSA-j8r2-6x86-q33q", ["CVE-2023-32681"], "requests", "2.25.1", ["2.31.0"],
        purl="pkg:pypi/requests@2.25.1")]))
    result = triage([], [trivy, grype])
    assert len(result.vulnerabilities) == 1
    v = result.vulnerabilities[0]
    assert (v.id, v.aliases, v.sources) == ("CVE-2023-32681", ["GHSA-j8r2-6x86-q33q"], ["grype", "trivy"])
    assert result.summary["duplicates_merged"] == 1 and result.summary["findings_read"] == 2


def test_json_shape_is_exactly_documented(corpus_dir: Path) -> None:
    result = triage([], [corpus_dir / "sbom/findings/trivy-pip.json"])
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {"vulnerabilities", "plans", "summary"}
    assert set(data["vulnerabilities"][0]) == {"id", "aliases", "package", "version", "purl", "ecosystem", "severity",
                                               "cvss", "epss", "kev", "fixed_versions", "risk", "sources"}
    assert data["vulnerabilities"][0]["cvss"]["score"] > 0


def test_kev_and_epss_raise_the_rank(tmp_path: Path, corpus_dir: Path) -> None:
    report = write_json(tmp_path / "t.json", trivy_report([
        trivy_vuln("CVE-2099-0001", "a", "1.0", "1.1", "CRITICAL", CVSS_CRIT),
        trivy_vuln("CVE-2021-44228", "b", "1.0", "1.1", "MEDIUM", "CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:L/I:L/A:N"),
        trivy_vuln("CVE-2099-0003", "c", "1.0", "1.1", "CRITICAL", CVSS_CRIT),
    ]))
    kev = load_kev(corpus_dir / "sbom/findings/cisa-kev-slice.json")
    epss = load_epss(_epss(tmp_path, {"CVE-2099-0003": 0.9, "CVE-2099-0001": 0.001}))
    result = triage([], [report], epss=epss, kev=kev)
    order = [v.id for v in result.vulnerabilities]
    # a medium on KEV outranks a critical nobody exploits; a critical with high EPSS outranks both
    assert order == ["CVE-2099-0003", "CVE-2021-44228", "CVE-2099-0001"]
    assert result.vulnerabilities[1].kev and result.vulnerabilities[0].epss == 0.9
    assert result.summary["feeds"]["epss"]["entries"] == 2 and result.summary["kev"] == 1


def test_risk_formula_is_as_documented() -> None:
    v = Vulnerability(id="CVE-1", aliases=[], package="p", version="1", ecosystem="pypi", purl=None, severity="high",
                      cvss=None, cwes=[], fixed_versions=["2"], fix_states=[], references=[], title=None, sources=[],
                      elements=[], epss=0.5, kev=True, direct=True)
    assert risk(v) == round(100 * (0.35 * 0.8 + 0.25 * 0.5 + 0.30 + 0.05 + 0.05), 1)
    v.direct, v.kev, v.fixed_versions = None, False, []
    assert risk(v) == round(100 * (0.35 * 0.8 + 0.25 * 0.5 + 0.05 * 0.5), 1)


def _vuln(vid: str, installed: str, fixed: list[str], eco: str = "pypi", states: list[str] | None = None
          ) -> Vulnerability:
    return Vulnerability(id=vid, aliases=[], package="pkg", version=installed, ecosystem=eco, purl=None,
                         severity="high", cvss=None, cwes=[], fixed_versions=fixed, fix_states=states or [],
                         references=[], title=None, sources=["t"], elements=[])


def test_plan_picks_lowest_version_fixing_all_with_real_semantics() -> None:
    plan = plan_package([_vuln("A", "1.2.0", ["1.9.0"]), _vuln("B", "1.2.0", ["1.10.0"]), _vuln("C", "1.2.0", ["1.3"])])
    assert plan.target == "1.10.0"  # not "1.9.0" (string order would say 1.9.0 > 1.10.0)
    assert plan.fixes == ["A", "B", "C"] and not plan.unfixed and not plan.crosses_major
    deb = plan_package([_vuln("D", "1:2.0-1", ["2.5-1"], "deb"), _vuln("E", "1:2.0-1", ["1:2.0-1+deb10u1"], "deb")])
    assert deb.target == "1:2.0-1+deb10u1" and deb.fixes == ["E"]  # epoch 1 beats 2.5-1
    assert "contradictory" in deb.unfixed[0].reason


def test_plan_never_proposes_installed_or_lower_and_explains() -> None:
    plan = plan_package([_vuln("A", "2.0.0", ["1.5.0", "2.0.0"]), _vuln("B", "2.0.0", []),
                         _vuln("C", "2.0.0", [], states=["wont-fix"]), _vuln("D", "2.0.0", ["not-a-version!"])])
    assert plan.target is None and plan.action == "ticket"
    reasons = {u.id: u.reason for u in plan.unfixed}
    assert "contradictory" in reasons["A"] and reasons["B"] == "no fixed release"
    assert "will not fix" in reasons["C"] and "unparsable" in reasons["D"]


def test_plan_release_lines_and_major_bumps() -> None:
    # fixed on two release lines: 1.x users go to 1.2.1, not 2.1.3
    plan = plan_package([_vuln("A", "1.1.1", ["1.2.1", "2.1.3"])])
    assert (plan.target, plan.crosses_major) == ("1.2.1", False)
    # a fix only on the next major: proposed, and flagged as crossing a major version
    plan = plan_package([_vuln("A", "1.1.1", ["2.0.1"]), _vuln("B", "1.1.1", ["1.1.5"])])
    assert (plan.target, plan.crosses_major, plan.fixes) == ("2.0.1", True, ["A", "B"])
    # ... unless majors are not allowed: then say why
    plan = plan_package([_vuln("A", "1.1.1", ["2.0.1"]), _vuln("B", "1.1.1", ["1.1.5"])], allow_major=False)
    assert plan.target == "1.1.5" and plan.unfixed[0].reason.startswith("fix only on another major line")
    # a pre-release only when nothing stable fixes as much
    plan = plan_package([_vuln("A", "18.9.0", ["20.3.0rc1", "20.3.0"])])
    assert plan.target == "20.3.0"


def test_unparsable_installed_version_is_reported_not_fatal(tmp_path: Path) -> None:
    report = write_json(tmp_path / "t.json", trivy_report([trivy_vuln("CVE-1", "a", "$$bad$$", "1.0"),
                                                           trivy_vuln("CVE-2", "b", "1.0", "1.1")]))
    result = triage([], [report])
    assert result.summary["bad_versions"] == 1 and result.summary["vulnerabilities"] == 2
    assert any(str(report) in str(p) and "Results[0].Vulnerabilities[0]" in str(p) and "$$bad$$" in str(p)
               for p in result.problems)
    assert {p.package: p.action for p in result.plans} == {"a": "ticket", "b": "pr"}


def test_bad_files_and_unknown_packages_are_counted(tmp_path: Path, corpus_dir: Path) -> None:
    truncated = tmp_path / "trunc.json"
    truncated.write_text(json.dumps(trivy_report([]))[:40])
    unknown = write_json(tmp_path / "unknown.json", {"hello": 1})
    sbom = corpus_dir / "sbom/sboms/syft-alpine-3.10.spdx.json"
    result = triage([sbom], [truncated, unknown, corpus_dir / "sbom/findings/trivy-pip.json"])
    assert result.failed_inputs == [str(truncated), str(unknown)]
    assert result.summary["not_in_sbom"] == 2 and result.summary["vulnerabilities"] == 2
    msgs = [str(p) for p in result.problems]
    assert any(str(truncated) in m and "truncated JSON" in m for m in msgs)
    assert any("Results[0].Vulnerabilities[0]" in m and "not in the SBOM" in m for m in msgs)
    with pytest.raises(InputError):
        triage([], [truncated])


def _affected(eco: str, fixed: str, target: str) -> bool:
    rng = RANGE_CLASS_BY_SCHEMES[eco].from_string(f"vers:{eco}/<{fixed}")
    return rng.version_class(target) in rng


def test_syft_sbom_plus_findings_gives_plans_that_really_fix(tmp_path: Path, corpus_dir: Path) -> None:
    """Real syft over a project pinning the vulnerable versions Trivy reported, then triage."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "requirements.txt").write_text("Werkzeug==0.11\nrequests==2.19.0\n")
    sboms = run_syft(proj, tmp_path)
    findings = [corpus_dir / "sbom/findings/trivy-pip.json", corpus_dir / "sbom/findings/osv-scanner-go-cargo.json"]
    result = triage([sboms["spdx-json"]], findings)
    werk = next(p for p in result.plans if p.package.lower() == "werkzeug" and p.installed == "0.11")
    assert werk.target == "0.15.3" and werk.direct is None  # no dependency edges: unknown, not guessed
    assert result.summary["packages_without_findings"] >= 1  # requests has no finding here
    checked = 0
    for plan in result.plans:
        if plan.target is None or plan.ecosystem not in RANGE_CLASS_BY_SCHEMES:
            continue
        assert parse_version(plan.ecosystem, plan.target) > parse_version(plan.ecosystem, plan.installed)
        for v in plan.vulns:
            if v.id in plan.fixes:
                assert all(not _affected(plan.ecosystem, f, plan.target) for f in v.fixed_versions
                           if parse_version(plan.ecosystem, f) > parse_version(plan.ecosystem, plan.installed)), v.id
                checked += 1
    assert checked >= 4


def _osv_affected(eco: str, t: Any, events: list[dict[str, str]]) -> bool:
    """OSV range evaluation: introduced opens an interval, fixed / last_affected closes it."""
    affected = False
    for e in events:
        if "introduced" in e and (e["introduced"] == "0" or t >= parse_version(eco, e["introduced"])):
            affected = True
        elif ("fixed" in e and t >= parse_version(eco, e["fixed"])) or (
                "last_affected" in e and t > parse_version(eco, e["last_affected"])):
            affected = False
    return affected


def test_osv_ranges_confirm_targets(corpus_dir: Path) -> None:
    """Targets are outside every affected range (introduced..fixed) that osv-scanner reported."""
    path = corpus_dir / "sbom/findings/osv-scanner-go-cargo-filter-input.json"
    raw = json.loads(path.read_text())
    ranges: dict[str, list[list[dict[str, str]]]] = {}
    for res in raw["results"]:
        for pkg in res["packages"]:
            for v in pkg["vulnerabilities"]:
                for aff in v.get("affected", []):
                    if aff["package"]["name"] == pkg["package"]["name"]:
                        ranges.setdefault(v["id"], []).extend(
                            r["events"] for r in aff.get("ranges", []) if r["type"] != "GIT")
    result = triage([], [path])
    checked = 0
    for plan in result.plans:
        for v in plan.vulns:
            if v.id not in plan.fixes:
                continue
            t = parse_version(plan.ecosystem, plan.target or "")
            for events in [e for i in v.ids for e in ranges.get(i, [])]:
                assert not _osv_affected(plan.ecosystem, t, events), (plan.package, plan.target, v.id, events)
                checked += 1
    assert checked >= 5


def test_transitive_names_the_direct_dependency(corpus_dir: Path, tmp_path: Path) -> None:
    sbom = corpus_dir / "sbom/sboms/gen-syft-probe-sitepackages.syft.json.gz"
    report = write_json(tmp_path / "t.json", trivy_report([trivy_vuln("CVE-2099-9", "pycparser", "3.12", "3.13")]))
    result = triage([sbom], [report])
    plan = result.plans[0]
    assert plan.direct is False and "cffi" in plan.via and plan.target == "3.13"


def test_vex_not_affected_suppresses(tmp_path: Path) -> None:
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.5",
           "components": [{"bom-ref": "c1", "type": "library", "name": "log4j-core", "version": "2.14.1",
                           "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}],
           "vulnerabilities": [{"id": "CVE-2021-44228", "affects": [{"ref": "c1"}],
                                "analysis": {"state": "not_affected"}}]}
    report = write_json(tmp_path / "t.json", trivy_report([
        {**trivy_vuln("CVE-2021-44228", "org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0"),
         "PkgIdentifier": {"PURL": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}}], "jar"))
    result = triage([write_json(tmp_path / "bom.json", bom)], [report])
    assert result.summary["suppressed"] == 1 and result.summary["vulnerabilities"] == 0 and not result.plans


def test_openvex_and_csaf_suppress(corpus_dir: Path, tmp_path: Path) -> None:
    f = corpus_dir / "sbom/findings"
    plain = triage([], [f / "trivy-gomod.json"])
    assert any(v.id == "CVE-2022-23628" for v in plain.open)
    vexed = triage([], [f / "trivy-gomod.json", f / "trivy-test.openvex.json"])
    assert not any(v.id == "CVE-2022-23628" for v in vexed.open)
    assert vexed.summary["suppressed"] == 1 and vexed.summary["vex_statements"] == 1
    assert not any(p.package.endswith("/opa") for p in vexed.plans)
    csaf = triage([], [f / "trivy-test-vex.csaf.json"])
    assert csaf.summary["vex_statements"] == 1 and csaf.summary["vulnerabilities"] == 0
    report = write_json(tmp_path / "t.json", trivy_report([
        {**trivy_vuln("CVE-2024-0001", "github.com/aquasecurity/go-transitive", "v4.0.0", "v4.0.1"),
         "PkgIdentifier": {"PURL": "pkg:golang/github.com/aquasecurity/go-transitive@v4.0.0"}},
        {**trivy_vuln("CVE-2024-0001", "github.com/aquasecurity/go-transitive", "v3.0.0", "v3.0.1"),
         "PkgIdentifier": {"PURL": "pkg:golang/github.com/aquasecurity/go-transitive@v3.0.0"}}], "gomod"))
    both = triage([], [report, f / "trivy-test-vex.csaf.json"])
    assert [v.version for v in both.open] == ["v3.0.0"]  # the statement names v4.0.0 only


def test_dependency_track_export(corpus_dir: Path) -> None:
    result = triage([], [corpus_dir / "sbom/findings/dojo-dependency-track-npm-fpf.json"])
    v = next(x for x in result.open if x.id == "CVE-2026-25547")
    assert v.aliases == ["GHSA-7h2j-956f-4vf2"] and v.ecosystem == "npm" and v.sources == ["dependency-track"]


def test_trivy_package_graph_gives_directness(tmp_path: Path, corpus_dir: Path) -> None:
    data = json.loads((corpus_dir / "sbom/findings/trivy-uv.json").read_text())
    res = data["Results"][0]
    res["Vulnerabilities"].append({**trivy_vuln("CVE-2099-7", "colorama", "0.4.6", "0.4.7"),
                                   "PkgIdentifier": {"PURL": "pkg:pypi/colorama@0.4.6"}})
    result = triage([], [write_json(tmp_path / "uv.json", data)])
    plans = {p.package: p for p in result.plans}
    assert plans["werkzeug"].direct is True
    assert plans["colorama"].direct is False and plans["colorama"].via == ["click"]


_ver = st.tuples(st.integers(0, 3), st.integers(0, 12), st.integers(0, 12)).map(lambda t: ".".join(map(str, t)))


@settings(max_examples=300, deadline=None)
@given(installed=_ver, fixes=st.lists(st.lists(_ver, max_size=3), min_size=1, max_size=4),
       eco=st.sampled_from(["pypi", "npm", "cargo", "maven", "golang"]))
def test_plan_invariants(installed: str, fixes: list[list[str]], eco: str) -> None:
    """Whatever the data: never the installed version or lower, every claimed fix really holds on
    the target's release line, and every vulnerability is either fixed or has a reason."""
    vulns = [_vuln(f"V{i}", installed, fx, eco) for i, fx in enumerate(fixes)]
    plan = plan_package(vulns)
    inst = parse_version(eco, installed)
    assert {*plan.fixes, *(u.id for u in plan.unfixed)} == {v.id for v in vulns}
    assert all(u.reason for u in plan.unfixed)
    if plan.target is None:
        assert not plan.fixes
        return
    t = parse_version(eco, plan.target)
    assert t > inst
    for v in vulns:
        if v.id in plan.fixes:
            above = [f for f in v.fixed_versions if parse_version(eco, f) > inst]
            same_line = [parse_version(eco, f) for f in above if major(eco, f) == major(eco, plan.target)]
            assert (same_line and t >= max(same_line)) or all(t >= parse_version(eco, f) for f in above)
