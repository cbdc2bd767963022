"""Read Kyverno and Gatekeeper YAML into an inventory of controls (with their enforcement mode)
and of exceptions. Pure functions over parsed documents, plus a multi-document reader with lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENFORCE, WARN, AUDIT, DISABLED, ACTIVE = "enforce", "warn", "audit", "disabled", "active"
RANK = {DISABLED: 0, AUDIT: 1, WARN: 2, ENFORCE: 3, ACTIVE: 3}
ADMISSION_POINTS = {"validation.gatekeeper.sh", "*"}


@dataclass(frozen=True)
class Control:
    key: str
    kind: str
    name: str
    rule: str | None
    mode: str
    file: str
    line: int


@dataclass(frozen=True)
class PolicyException:
    key: str
    kind: str
    name: str
    targets: tuple[str, ...]
    file: str
    line: int
    weight: int = 1


@dataclass
class Inventory:
    controls: dict[str, Control] = field(default_factory=dict)
    exceptions: list[PolicyException] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    documents: int = 0

    @property
    def exception_count(self) -> int:
        return sum(e.weight for e in self.exceptions)


def read_documents(path: Path) -> tuple[list[tuple[int, Any]], str | None]:
    """Every YAML document in a file with its first line; a parse error is returned, not raised."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"{path}: cannot read: {exc}"
    loader = yaml.SafeLoader(text)
    docs: list[tuple[int, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append((node.start_mark.line + 1, loader.construct_document(node)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        return docs, f"{where}: invalid YAML: {exc.problem}"
    finally:
        loader.dispose()
    return docs, None


def _mode_kyverno(value: Any, default: str) -> str:
    if value is None:
        return default
    v = str(value).lower()
    return ENFORCE if v == "enforce" else AUDIT if v == "audit" else default


def _meta(doc: dict[str, Any]) -> tuple[str, str | None]:
    meta = doc.get("metadata") or {}
    return str(meta.get("name") or "?"), meta.get("namespace")


def _key(kind: str, name: str, ns: str | None, rule: str | None = None) -> str:
    return f"{kind}/{ns + '/' if ns else ''}{name}" + (f"#{rule}" if rule else "")


def kyverno_policy(doc: dict[str, Any], file: str, line: int) -> list[Control]:
    """ClusterPolicy/Policy: one control per rule; validate rules carry Enforce/Audit (per rule wins)."""
    kind = str(doc.get("kind"))
    name, ns = _meta(doc)
    spec = doc.get("spec") or {}
    policy_mode = _mode_kyverno(spec.get("validationFailureAction"), AUDIT)
    switched_off = spec.get("admission") is False and spec.get("background") is False
    out = []
    for rule in spec.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        rname = str(rule.get("name") or "?")
        if "validate" in rule or "verifyImages" in rule:
            block = rule.get("validate") or {}
            if "verifyImages" in rule and isinstance(rule["verifyImages"], list) and rule["verifyImages"]:
                block = rule["verifyImages"][0] or {}
            mode = _mode_kyverno(block.get("failureAction") if isinstance(block, dict) else None, policy_mode)
        else:
            mode = ACTIVE  # mutate/generate: no enforcement mode, but removing it is drift
        out.append(Control(_key(kind, name, ns, rname), kind, name, rname, DISABLED if switched_off else mode,
                           file, line))
    return out


def kyverno_overrides(doc: dict[str, Any], file: str, line: int) -> list[PolicyException]:
    """Namespaces where an override makes the policy (or a rule) only audit are exceptions."""
    kind = str(doc.get("kind"))
    name, ns = _meta(doc)
    spec = doc.get("spec") or {}
    blocks: list[tuple[str | None, Any]] = [(None, spec.get("validationFailureActionOverrides"))]
    blocks += [(str(r.get("name")), (r.get("validate") or {}).get("failureActionOverrides"))
               for r in spec.get("rules") or [] if isinstance(r, dict) and isinstance(r.get("validate"), dict)]
    out = []
    for rule, overrides in blocks:
        for o in overrides or []:
            if isinstance(o, dict) and str(o.get("action", "")).lower() == "audit":
                namespaces = [str(n) for n in o.get("namespaces") or ["*"]]
                out.append(PolicyException(_key(kind, name, ns, rule) + "@audit:" + ",".join(namespaces),
                                           "failureActionOverride", name, tuple(namespaces), file, line,
                                           weight=len(namespaces)))
    return out


def kyverno_validating_policy(doc: dict[str, Any], file: str, line: int) -> list[Control]:
    kind = str(doc.get("kind"))
    name, ns = _meta(doc)
    spec = doc.get("spec") or {}
    actions = {str(a).lower() for a in spec.get("validationActions") or ["Deny"]}
    mode = ENFORCE if "deny" in actions else WARN if "warn" in actions else AUDIT if "audit" in actions else DISABLED
    admission = ((spec.get("evaluation") or {}).get("admission") or {}).get("enabled", True)
    background = ((spec.get("evaluation") or {}).get("background") or {}).get("enabled", True)
    if admission is False and background is False:
        mode = DISABLED
    return [Control(_key(kind, name, ns), kind, name, None, mode, file, line)]


def gatekeeper_constraint(doc: dict[str, Any], file: str, line: int) -> list[Control]:
    """enforcementAction deny (default) / warn / dryrun, or `scoped`: what admission does counts."""
    kind = str(doc.get("kind"))
    name, ns = _meta(doc)
    spec = doc.get("spec") or {}
    action = str(spec.get("enforcementAction") or "deny").lower()
    if action == "scoped":
        at_admission = {str(a.get("action", "")).lower() for a in spec.get("scopedEnforcementActions") or []
                        if isinstance(a, dict) and any(p.get("name") in ADMISSION_POINTS
                                                       for p in a.get("enforcementPoints") or [{"name": "*"}]
                                                       if isinstance(p, dict))}
        action = "deny" if "deny" in at_admission else "warn" if "warn" in at_admission else "dryrun"
    mode = {"deny": ENFORCE, "warn": WARN, "dryrun": AUDIT}.get(action, DISABLED)
    return [Control(_key(kind, name, ns), kind, name, None, mode, file, line)]


def kyverno_exception(doc: dict[str, Any], file: str, line: int) -> list[PolicyException]:
    name, ns = _meta(doc)
    spec = doc.get("spec") or {}
    targets = [str(e.get("policyName")) for e in spec.get("exceptions") or [] if isinstance(e, dict)]
    targets += [str(r.get("name")) for r in spec.get("policyRefs") or [] if isinstance(r, dict)]
    return [PolicyException(_key("PolicyException", name, ns), "PolicyException", name, tuple(targets), file, line)]


def gatekeeper_config(doc: dict[str, Any], file: str, line: int) -> list[PolicyException]:
    """Namespaces excluded from Gatekeeper in its Config are exceptions too (one per namespace)."""
    name, ns = _meta(doc)
    out = []
    for m in (doc.get("spec") or {}).get("match") or []:
        if not isinstance(m, dict):
            continue
        for excluded in m.get("excludedNamespaces") or []:
            out.append(PolicyException(_key("Config", name, ns, str(excluded)), "Config.excludedNamespaces",
                                       str(excluded), tuple(str(p) for p in m.get("processes") or ["*"]), file, line))
    return out


def classify(doc: Any, file: str, line: int, inv: Inventory) -> None:
    where = f"{file}:{line}"
    if not isinstance(doc, dict):
        if doc is not None:
            inv.skipped.append(f"{where}: not a Kubernetes object")
        return
    api = str(doc.get("apiVersion") or "")
    kind = str(doc.get("kind") or "")
    group = api.split("/")[0]
    if group == "kyverno.io" and kind in ("ClusterPolicy", "Policy"):
        _add(inv, kyverno_policy(doc, file, line))
        inv.exceptions.extend(kyverno_overrides(doc, file, line))
    elif group == "policies.kyverno.io" and kind.endswith("ValidatingPolicy"):
        _add(inv, kyverno_validating_policy(doc, file, line))
    elif group in ("kyverno.io", "policies.kyverno.io") and kind == "PolicyException":
        inv.exceptions.extend(kyverno_exception(doc, file, line))
    elif group == "constraints.gatekeeper.sh":
        _add(inv, gatekeeper_constraint(doc, file, line))
    elif group == "templates.gatekeeper.sh" and kind == "ConstraintTemplate":
        name, _ = _meta(doc)
        _add(inv, [Control(_key(kind, name, None), kind, name, None, ACTIVE, file, line)])
    elif group == "config.gatekeeper.sh" and kind == "Config":
        inv.exceptions.extend(gatekeeper_config(doc, file, line))
    else:
        inv.skipped.append(f"{where}: {kind or 'no kind'} ({api or 'no apiVersion'}) is not a policy, "
                           "constraint or exception")


def _add(inv: Inventory, controls: list[Control]) -> None:
    for c in controls:
        if c.key in inv.controls:
            first = inv.controls[c.key]
            inv.problems.append(f"{c.file}:{c.line}: duplicate {c.key} (first at {first.file}:{first.line})")
        inv.controls[c.key] = c


def inventory(paths: list[Path]) -> Inventory:
    inv = Inventory()
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (".yaml", ".yml")))
        elif p.is_file():
            files.append(p)
        else:
            inv.errors.append(f"{p}: no such file or directory")
    for f in files:
        docs, error = read_documents(f)
        if error:
            inv.errors.append(error)
        for line, doc in docs:
            inv.documents += 1
            classify(doc, str(f), line, inv)
    return inv
