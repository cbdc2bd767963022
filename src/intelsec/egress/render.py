"""Render the workspace's egress intent as CiliumNetworkPolicy and Kubernetes NetworkPolicy.

One policy per namespace. In `enforce` mode the policy is an allowlist (Cilium: `toFQDNs` plus the
DNS rule FQDN policies need, CIDR sets, and in-cluster traffic; Kubernetes: `ipBlock`s, since it
has no names). In `audit` mode everything stays reachable, with DNS visibility so flows carry
names, and only the CIDRs of categories enforced in that environment are denied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from intelsec.egress.config import EgressConfig
from intelsec.egress.exceptions import partition
from intelsec.egress.schemas import is_cidr

POLICY_NAME = "intelsec-egress"
MODE_ANNOTATION = "intelsec.io/egress-mode"
ENV_ANNOTATION = "intelsec.io/environment"
MANAGED = {"app.kubernetes.io/managed-by": "intelsec"}
KUBE_DNS_CILIUM = {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}


def namespaces(cfg: EgressConfig, env: str) -> list[str]:
    names = set(cfg.allowlist.namespaces)
    env_modes = cfg.enforcement.environments.get(env)
    if env_modes:
        names |= set(env_modes.namespaces)
    names |= {e.namespace for e in cfg.exceptions.exceptions if e.namespace != "*"}
    return sorted(names)


def namespace_mode(cfg: EgressConfig, env: str, ns: str) -> str:
    modes = cfg.enforcement.environments.get(env)
    if modes is None:
        return "audit"
    return modes.namespaces.get(ns, modes.mode)


def allowed_destinations(cfg: EgressConfig, ns: str, now: datetime) -> tuple[list[str], list[str]]:
    """(names and patterns, CIDRs) a namespace may reach: allowlist, approved categories, active exceptions."""
    names: list[str] = []
    cidrs: list[str] = []

    def add_category(name: str) -> None:
        for cat in cfg.categories:
            if cat.name == name:
                for d in cat.domains:
                    names.extend([d, "**." + d])
                cidrs.extend(cat.cidrs)

    for entry in cfg.allowlist.namespaces.get(ns, []):
        (cidrs if is_cidr(entry) else names).append(entry)
    for cat in cfg.categories:
        if cat.approved:
            add_category(cat.name)
    active, _ = partition(cfg.exceptions.exceptions, now)
    for e in active:
        if e.namespace not in (ns, "*"):
            continue
        if e.destination:
            (cidrs if is_cidr(e.destination) else names).append(e.destination)
        elif e.category:
            add_category(e.category)
    return list(dict.fromkeys(names)), list(dict.fromkeys(cidrs))


def enforced_cidrs(cfg: EgressConfig, env: str) -> list[str]:
    """CIDRs of categories that are enforced in `env` (denied even in audit mode)."""
    modes = cfg.enforcement.environments.get(env)
    if modes is None:
        return []
    out: list[str] = []
    for cat in cfg.categories:
        if modes.categories.get(cat.name) == "enforce" and not cat.approved:
            out.extend(cat.cidrs)
    return out


def _metadata(ns: str, env: str, mode: str) -> dict[str, Any]:
    return {
        "name": POLICY_NAME,
        "namespace": ns,
        "labels": dict(MANAGED),
        "annotations": {MODE_ANNOTATION: mode, ENV_ANNOTATION: env},
    }


def _fqdn(entry: str) -> dict[str, str]:
    return {"matchPattern": entry} if entry.startswith("*") else {"matchName": entry}


def _dns_rule() -> dict[str, Any]:
    return {
        "toEndpoints": [{"matchLabels": dict(KUBE_DNS_CILIUM)}],
        "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}],
    }


def cilium_policy(cfg: EgressConfig, env: str, ns: str, now: datetime) -> dict[str, Any]:
    mode = namespace_mode(cfg, env, ns)
    egress: list[dict[str, Any]] = [_dns_rule()]
    spec: dict[str, Any] = {"endpointSelector": {}, "egress": egress}
    if mode == "enforce":
        names, cidrs = allowed_destinations(cfg, ns, now)
        egress.append({"toEntities": ["cluster"]})
        if names:
            egress.append({"toFQDNs": [_fqdn(n) for n in names]})
        if cidrs:
            egress.append({"toCIDRSet": [{"cidr": c} for c in cidrs]})
    else:
        egress.append({"toEntities": ["all"]})
        deny = enforced_cidrs(cfg, env)
        if deny:
            spec["egressDeny"] = [{"toCIDRSet": [{"cidr": c} for c in deny]}]
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": _metadata(ns, env, mode),
        "spec": spec,
    }


def _k8s_dns_rule() -> dict[str, Any]:
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }


def k8s_policy(cfg: EgressConfig, env: str, ns: str, now: datetime) -> dict[str, Any]:
    mode = namespace_mode(cfg, env, ns)
    egress: list[dict[str, Any]] = [_k8s_dns_rule()]
    meta = _metadata(ns, env, mode)
    if mode == "enforce":
        names, cidrs = allowed_destinations(cfg, ns, now)
        egress.append({"to": [{"namespaceSelector": {}}]})
        if cidrs:
            egress.append({"to": [{"ipBlock": {"cidr": c}} for c in cidrs]})
        if names:
            meta["annotations"]["intelsec.io/fqdn-entries"] = (
                f"{len(names)} name/pattern entries need an FQDN-aware CNI (render cilium)"
            )
    else:
        deny = enforced_cidrs(cfg, env)
        blocks = []
        for everything, version in (("0.0.0.0/0", "."), ("::/0", ":")):
            block: dict[str, Any] = {"cidr": everything}
            excepted = [c for c in deny if version in c.split("/")[0]]
            if excepted:
                block["except"] = excepted
            blocks.append({"ipBlock": block})
        egress.append({"to": [{"namespaceSelector": {}}, *blocks]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
    }


def render(cfg: EgressConfig, target: str, env: str, now: datetime) -> dict[str, dict[str, Any]]:
    """File name -> policy document, for every namespace the workspace governs."""
    build = cilium_policy if target == "cilium" else k8s_policy
    prefix = "cnp" if target == "cilium" else "networkpolicy"
    return {f"{prefix}-{ns}.yaml": build(cfg, env, ns, now) for ns in namespaces(cfg, env)}


def documents(objs: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """Flatten `kind: List` exports (kubectl get -o yaml) into their items."""
    for obj in objs:
        if isinstance(obj, dict) and obj.get("kind", "").endswith("List") and isinstance(obj.get("items"), list):
            yield from (i for i in obj["items"] if isinstance(i, dict))
        elif isinstance(obj, dict):
            yield obj
