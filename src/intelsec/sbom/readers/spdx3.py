"""SPDX 3.0 JSON-LD: `software_Package` elements of the `@graph` and `dependsOn` relationships."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Problem
from intelsec.sbom.readers.common import as_dict, as_list, make_package, strs
from intelsec.sbom.readers.interface import Reader


class Spdx3Reader(Reader):
    format = "spdx3-jsonld"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and "spdx.org/rdf/3" in str(data.get("@context", "")) and isinstance(
            data.get("@graph"), list)

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for i, raw in enumerate(as_list(data.get("@graph"))):
            e = as_dict(raw)
            kind = str(e.get("type") or e.get("@type") or "")
            if kind == "software_Package":
                name = e.get("name")
                if not isinstance(name, str) or not name:
                    doc.problems.append(Problem(path, f"@graph[{i}]", "software_Package without a name: skipped"))
                    continue
                doc.packages.append(make_package(name, str(e.get("software_packageVersion") or ""),
                                                 e.get("software_packageUrl"), None, ref=e.get("spdxId")))
            elif kind.endswith("Relationship") and e.get("relationshipType") == "dependsOn":
                src = e.get("from")
                if isinstance(src, str):
                    doc.edges.extend((src, t) for t in strs(e.get("to")))
            elif kind in ("software_Sbom", "SpdxDocument"):
                doc.roots.extend(strs(e.get("rootElement")))
        return doc
