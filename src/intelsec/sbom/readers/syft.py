"""Syft's native JSON (artifacts + artifactRelationships), schema 1.x through 16.x."""

from __future__ import annotations

from typing import Any

from intelsec.sbom.models import Document, Problem
from intelsec.sbom.readers.common import as_dict, as_list, make_package
from intelsec.sbom.readers.interface import Reader


class SyftReader(Reader):
    format = "syft-json"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and "artifacts" in data and "matches" not in data and (
            "artifactRelationships" in data or "source" in data)

    def read(self, data: Any, path: str) -> Document:
        schema = as_dict(data.get("schema")).get("version")
        doc = Document(path=path, format=f"{self.format} {schema or ''}".strip())
        for i, raw in enumerate(as_list(data.get("artifacts"))):
            a = as_dict(raw)
            name = a.get("name")
            if not isinstance(name, str) or not name:
                doc.problems.append(Problem(path, f"artifacts[{i}]", "artifact without a name: skipped"))
                continue
            locs = [str(loc.get("path")) for loc in as_list(a.get("locations"))[:5] if isinstance(loc, dict)]
            doc.packages.append(make_package(name, str(a.get("version") or ""), a.get("purl") or None, a.get("type"),
                                             ref=a.get("id"), locations=locs))
        for rel in as_list(data.get("artifactRelationships")):
            if isinstance(rel, dict) and rel.get("type") == "dependency-of":
                doc.edges.append((str(rel.get("child")), str(rel.get("parent"))))
        return doc
