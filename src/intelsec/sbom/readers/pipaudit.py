"""pip-audit JSON: the current `{"dependencies": [...], "fixes": [...]}` and the legacy list form."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Finding, Package, Problem
from intelsec.sbom.readers.common import as_dict, as_list
from intelsec.sbom.readers.interface import Reader


class PipAuditReader(Reader):
    format = "pip-audit-json"

    def detect(self, data: Any) -> bool:
        deps = data.get("dependencies") if isinstance(data, dict) else data
        return isinstance(deps, list) and bool(deps) and all(
            isinstance(d, dict) and "name" in d and "vulns" in d for d in deps[:3])

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        deps = data.get("dependencies") if isinstance(data, dict) else data
        key = "dependencies" if isinstance(data, dict) else ""
        for i, raw in enumerate(as_list(deps)):
            d = as_dict(raw)
            where = f"{key}[{i}]"
            name, version = d.get("name"), d.get("version")
            if not isinstance(name, str) or not isinstance(version, str):
                doc.problems.append(Problem(path, where, f"dependency {name!r} has no version (pip-audit skipped it)"))
                continue
            purl = f"pkg:pypi/{name}@{version}"
            doc.packages.append(Package(name=name, version=version, ecosystem="pypi", purl=purl))
            for j, v in enumerate(map(as_dict, as_list(d.get("vulns")))):
                if not isinstance(v.get("id"), str):
                    continue
                doc.findings.append(Finding(
                    vuln_id=v["id"], package=name, version=version, ecosystem="pypi", purl=f"pkg:pypi/{name}@{version}",
                    source="pip-audit", aliases=[a for a in as_list(v.get("aliases")) if isinstance(a, str)],
                    fixed_versions=[f for f in as_list(v.get("fix_versions")) if isinstance(f, str)],
                    title=v.get("description") if isinstance(v.get("description"), str) else None,
                    element=f"{where}.vulns[{j}]",
                ))
        return doc
