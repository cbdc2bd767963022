"""SPDX 2.2 / 2.3 JSON (packages, purls in externalRefs, relationships)."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Problem
from intelsec.sbom.readers.common import as_dict, as_list, make_package
from intelsec.sbom.readers.interface import Reader

# relationship types meaning "A depends on B" and "A is a dependency of B"
_DEPENDS_ON = {"DEPENDS_ON", "DEV_DEPENDENCY_OF_REVERSED", "BUILD_DEPENDS_ON"}
_DEPENDENCY_OF = {"DEPENDENCY_OF", "DEV_DEPENDENCY_OF", "BUILD_DEPENDENCY_OF", "RUNTIME_DEPENDENCY_OF",
                  "OPTIONAL_DEPENDENCY_OF", "PROVIDED_DEPENDENCY_OF", "TEST_DEPENDENCY_OF"}


class SpdxReader(Reader):
    format = "spdx-json"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and str(data.get("spdxVersion", "")).startswith("SPDX-2")

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=f"{self.format} {data.get('spdxVersion')}")
        for i, raw in enumerate(as_list(data.get("packages"))):
            p = as_dict(raw)
            name = p.get("name")
            if not isinstance(name, str) or not name:
                doc.problems.append(Problem(path, f"packages[{i}]", "package without a name: skipped"))
                continue
            purl = None
            for ref in as_list(p.get("externalRefs")):
                if isinstance(ref, dict) and ref.get("referenceType") == "purl":
                    purl = ref.get("referenceLocator")
                    break
            locs = [p["sourceInfo"]] if isinstance(p.get("sourceInfo"), str) else []
            version = str(p.get("versionInfo") or "")
            doc.packages.append(make_package(name, version, purl, p.get("primaryPackagePurpose"),
                                             ref=p.get("SPDXID"), locations=locs))
        roots = [r for r in as_list(data.get("documentDescribes")) if isinstance(r, str)]
        for rel in as_list(data.get("relationships")):
            if not isinstance(rel, dict):
                continue
            kind, a, b = rel.get("relationshipType"), rel.get("spdxElementId"), rel.get("relatedSpdxElement")
            if not isinstance(a, str) or not isinstance(b, str):
                continue
            if kind in _DEPENDS_ON:
                doc.edges.append((a, b))
            elif kind in _DEPENDENCY_OF:
                doc.edges.append((b, a))
            elif kind == "DESCRIBES" and a == "SPDXRef-DOCUMENT":
                roots.append(b)
        doc.roots = roots
        return doc
