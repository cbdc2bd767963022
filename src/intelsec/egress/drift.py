"""Compare egress policies exported from a cluster with what the workspace renders now."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from intelsec.egress.render import MODE_ANNOTATION, documents
from intelsec.errors import InputError

KINDS = {"cilium": "CiliumNetworkPolicy", "k8s": "NetworkPolicy"}


@dataclass(frozen=True)
class DriftFinding:
    kind: str  # allowed_live_not_in_git | removed_rule | extra_deny_live | mode_change | policy_count
    policy: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "policy": self.policy, "detail": self.detail}


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def destinations(doc: dict[str, Any]) -> set[str]:
    """Every peer a policy lets its pods reach, as comparable strings (deny rules prefixed `deny `)."""
    spec = doc.get("spec") or {}
    out: set[str] = set()
    if doc.get("kind") == "NetworkPolicy":
        for rule in spec.get("egress") or []:
            ports = _canon(rule.get("ports")) if rule.get("ports") else ""
            for peer in rule.get("to") or [{}]:
                if "ipBlock" in peer:
                    block = peer["ipBlock"]
                    exc = f" except {','.join(sorted(block.get('except') or []))}" if block.get("except") else ""
                    out.add(f"cidr {block.get('cidr')}{exc}{' ports ' + ports if ports else ''}")
                else:
                    out.add(f"peer {_canon(peer)}{' ports ' + ports if ports else ''}")
        return out
    for section, prefix in (("egress", ""), ("egressDeny", "deny ")):
        for rule in spec.get(section) or []:
            ports = f" ports {_canon(rule['toPorts'])}" if rule.get("toPorts") else ""
            for f in rule.get("toFQDNs") or []:
                out.update(f"{prefix}fqdn {k}={v}{ports}" for k, v in f.items())
            for c in rule.get("toCIDR") or []:
                out.add(f"{prefix}cidr {c}{ports}")
            for c in rule.get("toCIDRSet") or []:
                exc = f" except {','.join(sorted(c.get('except') or []))}" if c.get("except") else ""
                out.add(f"{prefix}cidr {c.get('cidr')}{exc}{ports}")
            for e in rule.get("toEntities") or []:
                out.add(f"{prefix}entity {e}{ports}")
            for ep in rule.get("toEndpoints") or []:
                out.add(f"{prefix}endpoints {_canon(ep)}{ports}")
    return out


def load_live(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """`namespace/name` -> policy, from every YAML/JSON file under `directory`."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory of exported policies")
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()):
        try:
            objs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise InputError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
        for doc in documents(objs):
            if doc.get("kind") != kind:
                continue
            meta = doc.get("metadata") or {}
            try:
                key = f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"
                (meta.get("annotations") or {}).get(MODE_ANNOTATION)  # the shape compare() relies on,
                destinations(doc)  # checked here where the file is known
            except (AttributeError, TypeError) as exc:
                raise InputError(f"{path}: {kind} is not shaped like an exported policy: {exc}") from None
            out[key] = doc
    return out


def compare(rendered: list[dict[str, Any]], live: dict[str, dict[str, Any]]) -> list[DriftFinding]:
    want = {f"{d['metadata']['namespace']}/{d['metadata']['name']}": d for d in rendered}
    findings: list[DriftFinding] = []
    want_ns = Counter(k.split("/")[0] for k in want)
    live_ns = Counter(k.split("/")[0] for k in live)
    for ns in sorted(set(want_ns) | set(live_ns)):
        if want_ns[ns] != live_ns[ns]:
            findings.append(DriftFinding("policy_count", ns, f"{live_ns[ns]} live policies, {want_ns[ns]} in git"))
    for key in sorted(set(want) | set(live)):
        w, lv = want.get(key), live.get(key)
        if lv is None:
            findings.append(DriftFinding("policy_count", key, "policy in git is missing from the cluster"))
            continue
        live_dest = destinations(lv)
        if w is None:
            findings.append(DriftFinding("policy_count", key, "live policy is not in git"))
            for d in sorted(x for x in live_dest if not x.startswith("deny ")):
                findings.append(DriftFinding("allowed_live_not_in_git", key, d))
            continue
        want_dest = destinations(w)
        for d in sorted(live_dest - want_dest):
            kind = "extra_deny_live" if d.startswith("deny ") else "allowed_live_not_in_git"
            findings.append(DriftFinding(kind, key, d))
        for d in sorted(want_dest - live_dest):
            findings.append(DriftFinding("removed_rule", key, d))
        wm = ((w.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION)
        lm = ((lv.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION)
        if wm != lm:
            findings.append(DriftFinding("mode_change", key, f"live mode {lm or 'unset'}, git mode {wm}"))
    return findings
