"""SARIF 2.1.0 from Trivy, Grype and osv-scanner: vulnerability results only.

SARIF has no package fields, so the package and versions come from the text each tool writes in
`message`/`help` (documented, stable templates of each tool).
"""

from __future__ import annotations

import re
from typing import Any

from intelsec.sbom.models import Document, Finding, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, split_versions
from intelsec.sbom.readers.interface import Reader

_FIELD = re.compile(r"^(Package|Installed Version|Version|Fixed Version|Fix Version|Severity|Type):\s*(.*)$", re.M)
_OSV = re.compile(r"Package '(?P<name>.+)@(?P<version>[^']+)' is vulnerable to '(?P<id>[^']+)'"
                  r"(?: \(also known as '(?P<aliases>[^)]*)'\))?")
_OSV_FIX = re.compile(r"^\| (?P<id>\S+) \| (?P<name>\S+) \| (?P<fixed>[^|]+?) \|$", re.M)
_ID = re.compile(r"^(CVE-\d{4}-\d+|GHSA(?:-[0-9a-z]{4}){3}|[A-Z]+-[\w.-]+?)(?:-(?=\D).*)?$")


class SarifReader(Reader):
    format = "sarif"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and str(data.get("version", "")).startswith("2.1") and isinstance(
            data.get("runs"), list)

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for r_i, raw_run in enumerate(as_list(data.get("runs"))):
            run = as_dict(raw_run)
            driver = as_dict(as_dict(run.get("tool")).get("driver"))
            tool = str(driver.get("name") or "sarif").lower()
            rules = {str(r.get("id")): r for r in map(as_dict, as_list(driver.get("rules")))}
            for i, raw in enumerate(as_list(run.get("results"))):
                where = f"runs[{r_i}].results[{i}]"
                res = as_dict(raw)
                rule_id = str(res.get("ruleId") or "")
                rule = as_dict(rules.get(rule_id))
                text = str(as_dict(res.get("message")).get("text") or "")
                help_text = str(as_dict(rule.get("help")).get("text") or "")
                help_md = str(as_dict(rule.get("help")).get("markdown") or "")
                f = _parse(tool, rule_id, text, help_text, help_md)
                if f is None:
                    doc.problems.append(Problem(path, where, f"result {rule_id!r} names no package: skipped"))
                    continue
                vid, name, version, fixed, sev, kind, aliases = f
                pkg = make_package(name, version, None, kind)
                score = as_dict(rule.get("properties")).get("security-severity")
                severity = severity_of(sev) if sev else _sev_from_score(score)
                doc.findings.append(Finding(
                    vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, source=tool,
                    aliases=aliases, severity=severity, fixed_versions=fixed,
                    references=[rule["helpUri"]] if isinstance(rule.get("helpUri"), str) else [],
                    title=str(as_dict(rule.get("shortDescription")).get("text") or "") or None, element=where,
                ))
        return doc


def _parse(tool: str, rule_id: str, text: str, help_text: str, help_md: str
           ) -> tuple[str, str, str, list[str], str | None, str | None, list[str]] | None:
    m = _OSV.search(text)
    if m:
        aliases = [a.strip(" '") for a in (m["aliases"] or "").split(",") if a.strip(" '")]
        fixed = [fx["fixed"].strip() for fx in _OSV_FIX.finditer(help_md.partition("Fixed Versions")[2])
                 if fx["name"] == m["name"] and fx["fixed"].strip()[:1].isdigit()]
        return m["id"], m["name"], m["version"], fixed, None, None, aliases
    fields: dict[str, str] = {}
    for source in (text, help_text):
        for k, v in _FIELD.findall(source):
            fields.setdefault(k, v.strip())
    name = fields.get("Package")
    version = fields.get("Installed Version") or fields.get("Version")
    if not name or not version:
        return None
    idm = _ID.match(rule_id)
    vid = idm.group(1) if idm and tool == "grype" else rule_id
    fixed = split_versions(fields.get("Fixed Version") or fields.get("Fix Version"))
    return vid, name, version, fixed, fields.get("Severity"), fields.get("Type"), []


def _sev_from_score(score: Any) -> str:
    try:
        s = float(score)
    except (TypeError, ValueError):
        return "unknown"
    return "critical" if s >= 9 else "high" if s >= 7 else "medium" if s >= 4 else "low"
