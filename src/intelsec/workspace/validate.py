"""`intelsec config validate`: every YAML file against its model, every Rego file compiles."""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regorus

from intelsec.config import CONFIG_FILE, STATE_DIR, WorkspaceConfig
from intelsec.errors import ConfigError
from intelsec.policy.engine import _clean_error
from intelsec.yamlio import read_yaml, validate_document

# Each capability package lists the workspace files it owns: glob (relative to the root) -> model.
SCHEMA_MODULES = [
    "intelsec.identity.schemas",
    "intelsec.deception.schemas",
    "intelsec.egress.schemas",
    "intelsec.sbom.schemas",
    "intelsec.validation.schemas",
    "intelsec.privacy.schemas",
    "intelsec.workspace.metrics_schema",
]
SKIP_DIRS = {STATE_DIR, ".git", ".github", "node_modules", "__pycache__"}


def schema_registry() -> dict[str, Any]:
    registry: dict[str, Any] = {CONFIG_FILE: WorkspaceConfig}
    for name in SCHEMA_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        registry.update(getattr(module, "WORKSPACE_SCHEMAS", {}))
    return registry


@dataclass
class ValidationReport:
    checked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and p.suffix in suffixes and not (set(rel.parts[:-1]) & SKIP_DIRS):
            out.append(p)
    return out


def model_for(rel: str, registry: dict[str, Any]) -> Any | None:
    for pattern, model in registry.items():
        if fnmatch.fnmatch(rel, pattern):
            return model
    return None


def validate_workspace(root: Path) -> ValidationReport:
    report = ValidationReport()
    if not (root / CONFIG_FILE).is_file():
        report.errors.append(f"{root / CONFIG_FILE}: missing; create a workspace with `intelsec init {root}`")
        return report
    registry = schema_registry()
    for path in _files(root, (".yaml", ".yml")):
        rel = path.relative_to(root).as_posix()
        try:
            doc = read_yaml(path)
            model = model_for(rel, registry)
            if model is not None:
                validate_document(doc, model)
        except ConfigError as exc:
            report.errors.append(str(exc))
        report.checked.append(rel)
    v0 = set()
    try:
        cfg = validate_document(read_yaml(root / CONFIG_FILE), WorkspaceConfig)
        v0 = {str((root / f).resolve()) for f in cfg.policy.rego_v0}
    except ConfigError:
        pass
    for path in _files(root, (".rego",)):
        engine = regorus.Engine()
        engine.set_rego_v0(str(path.resolve()) in v0)
        try:
            engine.add_policy(str(path), path.read_text(encoding="utf-8"))
        except Exception as exc:
            report.errors.append(_clean_error(exc, str(path)))
        report.checked.append(path.relative_to(root).as_posix())
    return report
