"""CycloneDX 1.2-1.7 JSON: components (nested), `dependencies`, and `vulnerabilities` (VEX aware)."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.ecosystems import purl_name, purl_version
from intelsec.sbom.models import Document, Finding, Package, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, scored, strs
from intelsec.sbom.readers.interface import Reader

SUPPRESSING_STATES = {"not_affected", "false_positive", "resolved"}


class CycloneDxReader(Reader):
    format = "cyclonedx-json"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and data.get("bomFormat") == "CycloneDX"

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=f"{self.format} {data.get('specVersion')}")
        by_ref: dict[str, Package] = {}
        stack: list[tuple[str, Any]] = [(f"components[{i}]", c) for i, c in enumerate(as_list(data.get("components")))]
        while stack:
            where, raw = stack.pop()
            c = as_dict(raw)
            stack.extend((f"{where}.components[{i}]", s) for i, s in enumerate(as_list(c.get("components"))))
            name = c.get("name")
            if not isinstance(name, str) or not name:
                doc.problems.append(Problem(path, where, "component without a name: skipped"))
                continue
            if c.get("type") in ("file", "operating-system") and not c.get("purl"):
                continue
            group = c.get("group")
            full = f"{group}:{name}" if isinstance(group, str) and group and not c.get("purl") else name
            ref = c.get("bom-ref") if isinstance(c.get("bom-ref"), str) else None
            pkg = make_package(full, str(c.get("version") or ""), c.get("purl") or None, _kind(c), ref=ref,
                               locations=_locations(c))
            doc.packages.append(pkg)
            if ref:
                by_ref[ref] = pkg
        root = as_dict(as_dict(data.get("metadata")).get("component")).get("bom-ref")
        if isinstance(root, str):
            doc.roots = [root]
        for dep in as_list(data.get("dependencies")):
            d = as_dict(dep)
            ref = d.get("ref")
            if isinstance(ref, str):
                doc.edges.extend((ref, t) for t in as_list(d.get("dependsOn")) if isinstance(t, str))
        tool = _tool(data)
        for i, raw in enumerate(as_list(data.get("vulnerabilities"))):
            self._vulnerability(doc, as_dict(raw), f"vulnerabilities[{i}]", by_ref, tool)
        return doc

    def _vulnerability(self, doc: Document, v: dict[str, Any], where: str, by_ref: dict[str, Package],
                       tool: str) -> None:
        vid = v.get("id")
        if not isinstance(vid, str) or not vid:
            doc.problems.append(Problem(doc.path, where, "vulnerability without an id: skipped"))
            return
        ratings = [as_dict(r) for r in as_list(v.get("ratings"))]
        severities = [severity_of(r.get("severity")) for r in ratings]
        severity = next((s for s in ("critical", "high", "medium", "low") if s in severities), "unknown")
        aliases = strs([as_dict(r).get("id") for r in as_list(v.get("references"))])
        refs = strs([as_dict(a).get("url") for a in as_list(v.get("advisories"))])
        state = as_dict(v.get("analysis")).get("state")
        for j, aff in enumerate(as_list(v.get("affects"))):
            ref = as_dict(aff).get("ref")
            pkg = by_ref.get(ref) if isinstance(ref, str) else None
            if pkg is None and isinstance(ref, str) and "#pkg:" in ref:  # BOM-Link into another BOM
                ref = ref.split("#", 1)[1]
            if pkg is None and isinstance(ref, str) and ref.startswith("pkg:"):
                pkg = make_package(purl_name(ref) or ref, purl_version(ref), ref, None)
            if pkg is None:
                doc.problems.append(Problem(doc.path, f"{where}.affects[{j}]",
                                            f"{vid} refers to unknown component {ref!r}", "unknown_package"))
                continue
            doc.findings.append(Finding(
                vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, purl=pkg.purl,
                source=tool, aliases=[a for a in aliases if a != vid], severity=severity,
                cvss=scored([r.get("vector") for r in ratings]),
                cwes=[f"CWE-{c}" for c in as_list(v.get("cwes"))], fixed_versions=_fixed(aff), references=refs,
                title=v.get("description") if isinstance(v.get("description"), str) else None,
                element=f"{where}.affects[{j}]", suppressed=state in SUPPRESSING_STATES,
            ))


def _fixed(aff: Any) -> list[str]:
    """Versions the `affects` entry marks `unaffected` (CycloneDX has no separate fixed field)."""
    return [str(v["version"]) for v in map(as_dict, as_list(as_dict(aff).get("versions")))
            if v.get("status") == "unaffected" and v.get("version")]


def _kind(c: dict[str, Any]) -> str | None:
    for prop in as_list(c.get("properties")):
        if isinstance(prop, dict) and prop.get("name") == "syft:package:type":
            return str(prop.get("value"))
    return None


def _locations(c: dict[str, Any]) -> list[str]:
    return [str(p.get("value")) for p in as_list(c.get("properties"))
            if isinstance(p, dict) and str(p.get("name", "")).endswith(":path")][:5]


def _tool(data: dict[str, Any]) -> str:
    tools = as_dict(data.get("metadata")).get("tools")
    items = as_list(as_dict(tools).get("components")) if isinstance(tools, dict) else as_list(tools)
    for t in items:
        if isinstance(t, dict) and isinstance(t.get("name"), str):
            return t["name"].lower()
    return "cyclonedx"
