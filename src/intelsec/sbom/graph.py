"""Dependency graph of an SBOM: which packages are direct, and which direct ones bring the others in."""

from __future__ import annotations

from collections import deque

from intelsec.sbom.models import Document, Package


class DependencyGraph:
    """Built from SPDX relationships, CycloneDX `dependencies`, Syft `dependency-of` edges."""

    def __init__(self, docs: list[Document]) -> None:
        self.parents: dict[str, set[str]] = {}
        self.by_ref: dict[str, Package] = {}
        self.roots: set[str] = set()
        self.has_edges = False
        for doc in docs:
            for p in doc.packages:
                if p.ref:
                    self.by_ref[p.ref] = p
            self.roots.update(doc.roots)
            for parent, child in doc.edges:
                if parent != child:
                    self.parents.setdefault(child, set()).add(parent)
                    self.has_edges = True

    def _real_parents(self, ref: str) -> set[str]:
        return {p for p in self.parents.get(ref, ()) if p not in self.roots and p in self.by_ref}

    def classify(self, pkg: Package, limit: int = 5) -> None:
        """Set `direct` and `via` on `pkg` (left as unknown when the SBOM has no dependency edges)."""
        if not self.has_edges or not pkg.ref or pkg.direct is True or pkg.via:
            return
        parents = self._real_parents(pkg.ref)
        if not parents:
            if pkg.direct is None:
                pkg.direct = True
            return
        pkg.direct = False
        seen: set[str] = {pkg.ref}
        tops: list[str] = []
        queue = deque(sorted(parents))
        while queue and len(tops) < limit:
            ref = queue.popleft()
            if ref in seen:
                continue
            seen.add(ref)
            up = self._real_parents(ref)
            if not up:
                tops.append(self.by_ref[ref].name)
            queue.extend(sorted(up - seen))
        pkg.via = sorted(set(tops))
