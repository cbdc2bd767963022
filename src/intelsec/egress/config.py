"""Load and cross-check a workspace's egress files, with file:line on every error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from intelsec.config import Workspace
from intelsec.egress.categories import UNKNOWN, is_public_suffix
from intelsec.egress.schemas import Allowlist, CategoryFile, Enforcement, ExceptionsFile, is_cidr
from intelsec.errors import ConfigError, located
from intelsec.yamlio import YamlDocument, read_yaml, validate_document

M = TypeVar("M")


@dataclass
class EgressConfig:
    allowlist: Allowlist = field(default_factory=Allowlist)
    categories: list[CategoryFile] = field(default_factory=list)
    exceptions: ExceptionsFile = field(default_factory=ExceptionsFile)
    enforcement: Enforcement = field(default_factory=Enforcement)

    def category_names(self) -> set[str]:
        return {c.name for c in self.categories} | {UNKNOWN}


def _load(path: Path, model: type[M], default: M) -> tuple[M, YamlDocument | None]:
    if not path.is_file():
        return default, None
    doc = read_yaml(path)
    if doc.data is None:
        return default, doc
    return validate_document(doc, model), doc


def _check_suffix(entry: str, doc: YamlDocument | None, loc: tuple[Any, ...]) -> None:
    if is_cidr(entry):
        return
    body = entry.split(".", 1)[1] if entry.startswith("*") else entry
    if is_public_suffix(body):
        where = doc.path if doc else "egress"
        raise ConfigError(
            located(where, doc.line_of(loc) if doc else None, f"{entry!r} is a public suffix; list registrable domains")
        )


def load_egress(ws: Workspace) -> EgressConfig:
    base = ws.path("egress")
    allowlist, adoc = _load(base / "allowlist.yaml", Allowlist, Allowlist())
    for ns, entries in allowlist.namespaces.items():
        for i, entry in enumerate(entries):
            _check_suffix(entry, adoc, ("namespaces", ns, i))
    categories: list[CategoryFile] = []
    seen: dict[str, Path] = {}
    cat_dir = base / "categories"
    for path in sorted(cat_dir.glob("*.yaml")) if cat_dir.is_dir() else []:
        doc = read_yaml(path)
        cat = validate_document(doc, CategoryFile)
        if cat.name in seen:
            raise ConfigError(
                located(path, doc.line_of(("name",)), f"category {cat.name!r} also defined in {seen[cat.name]}")
            )
        seen[cat.name] = path
        for i, d in enumerate(cat.domains):
            _check_suffix(d, doc, ("domains", i))
        categories.append(cat)
    names = {c.name for c in categories} | {UNKNOWN}
    exceptions, edoc = _load(base / "exceptions.yaml", ExceptionsFile, ExceptionsFile())
    for i, exc in enumerate(exceptions.exceptions):
        if exc.category is not None and exc.category not in names:
            raise ConfigError(
                located(
                    edoc.path if edoc else "exceptions.yaml",
                    edoc.line_of(("exceptions", i, "category")) if edoc else None,
                    f"unknown category {exc.category!r}",
                )
            )
        if exc.destination:
            _check_suffix(exc.destination, edoc, ("exceptions", i, "destination"))
    enforcement, ndoc = _load(base / "enforcement.yaml", Enforcement, Enforcement())
    for env, modes in enforcement.environments.items():
        for cat in modes.categories:
            if cat not in names:
                raise ConfigError(
                    located(
                        ndoc.path if ndoc else "enforcement.yaml",
                        ndoc.line_of(("environments", env, "categories", cat)) if ndoc else None,
                        f"unknown category {cat!r}",
                    )
                )
    return EgressConfig(allowlist, categories, exceptions, enforcement)
