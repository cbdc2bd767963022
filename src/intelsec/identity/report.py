"""Identity coverage of tier-0 services from Kubernetes manifests: registered, behind mTLS, secretless.

Secret values are never echoed: findings name the file, line, object and key, and what kind of
secret it looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from intelsec.identity.schemas import WorkloadRegistration

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}
SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|dsn|conn(ection)?_?str)", re.IGNORECASE)
SECRET_VALUE = [
    ("aws-access-key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("url-with-password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
]
# Values that cannot be secrets whatever the name says: paths, flags, $(VAR) references; and numbers
# or durations for settings such as TOKEN_TTL (a numeric DB_PASSWORD still counts).
NOT_SECRET = re.compile(r"/.*|true|false|yes|no|on|off|enabled|disabled|\$\([A-Za-z0-9_]+\)", re.IGNORECASE)
NUMBER = re.compile(r"\d+(\.\d+)?[smhd]?")
SETTING_NAME = re.compile(r"ttl|timeout|expir|lifetime|interval|max|min|size|len|port|count|retr", re.IGNORECASE)
MESH_ANNOTATIONS = {("sidecar.istio.io/inject", "true"), ("linkerd.io/inject", "enabled")}


class Finding(BaseModel):
    file: str
    line: int | None
    object: str
    key: str
    kind: str  # secret-object | secret-env-name | secret-env-value


class ServiceCoverage(BaseModel):
    service: str
    found: bool
    registered: bool
    spiffe_id: str | None = None
    mtls: str = "none"  # enforce | shadow | mesh | none
    plaintext_secrets: list[Finding] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class CoverageReport(BaseModel):
    services: list[ServiceCoverage]
    unattributed_secrets: list[Finding]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.services) and not self.errors


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's line under the key `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]


def load_manifests(directory: Path, errors: list[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
        try:
            docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LineLoader))
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            errors.append(f"{where}: cannot parse: {getattr(exc, 'problem', None) or exc}")
            continue
        for doc in docs:
            if isinstance(doc, dict) and isinstance(doc.get("kind"), str):
                if doc["kind"] == "List":
                    for item in doc.get("items") or []:
                        if isinstance(item, dict):
                            yield path, item
                else:
                    yield path, doc


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def _pod_meta(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == "Pod":
        return obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("metadata")) or {}


def _names(obj: dict[str, Any]) -> set[str]:
    meta = obj.get("metadata") or {}
    labels = {**(meta.get("labels") or {}), **(_pod_meta(obj).get("labels") or {})}
    return {str(v) for v in (meta.get("name"), labels.get("app"), labels.get("app.kubernetes.io/name")) if v}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (pod.get("containers") or []) + (pod.get("initContainers") or []) if isinstance(c, dict)]


def _mtls(obj: dict[str, Any], pod: dict[str, Any]) -> str:
    for c in _containers(pod):
        argv = " ".join(str(a) for a in (c.get("command") or []) + (c.get("args") or []))
        if re.search(r"\bidentity\s+sidecar\b", argv) and not re.search(r"--direction[ =]outbound", argv):
            return "shadow" if re.search(r"--mode[ =]shadow", argv) else "enforce"
    meta = obj.get("metadata") or {}
    annotations = {**(meta.get("annotations") or {}), **(_pod_meta(obj).get("annotations") or {})}
    if any(str(annotations.get(k)) == v for k, v in MESH_ANNOTATIONS):
        return "mesh"
    return "none"


def _secret_refs(pod: dict[str, Any]) -> set[str]:
    refs: set[str] = set()
    for c in _containers(pod):
        for env in c.get("env") or []:
            if not isinstance(env, dict):
                continue
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if ref:
                refs.add(str(ref))
        for src in c.get("envFrom") or []:
            ref = (src.get("secretRef") or {}).get("name") if isinstance(src, dict) else None
            if ref:
                refs.add(str(ref))
    for vol in pod.get("volumes") or []:
        ref = (vol.get("secret") or {}).get("secretName") if isinstance(vol, dict) else None
        if ref:
            refs.add(str(ref))
    return refs


def _env_findings(path: Path, obj_name: str, pod: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for c in _containers(pod):
        for env in c.get("env") or []:
            if not isinstance(env, dict) or "value" not in env:
                continue
            name, value = str(env.get("name", "")), str(env.get("value") or "")
            line = env.get("__line__")
            kind = next((k for k, rx in SECRET_VALUE if rx.search(value)), None)
            benign = NOT_SECRET.fullmatch(value) or (NUMBER.fullmatch(value) and SETTING_NAME.search(name))
            if kind is None and value and SECRET_NAME.search(name) and not benign:
                kind = "secret-env-name"
            elif kind is not None:
                kind = f"secret-env-value:{kind}"
            if kind is not None:
                out.append(Finding(file=str(path), line=line, object=obj_name, key=name, kind=kind))
    return out


def _registered(service: str, obj: dict[str, Any] | None, pod: dict[str, Any],
                entries: list[WorkloadRegistration]) -> WorkloadRegistration | None:
    ns = str(((obj or {}).get("metadata") or {}).get("namespace") or "default")
    sa = str(pod.get("serviceAccountName") or pod.get("serviceAccount") or "default")
    for e in entries:
        sel = dict(e.spec.selector_pairs())
        if obj is not None and sel.get("k8s:sa") == sa and sel.get("k8s:ns", ns) == ns:
            return e
    return next((e for e in entries if e.metadata.name == service), None)


def _well_formed(path: Path, obj: dict[str, Any], errors: list[str]) -> bool:
    """Walk the parts we read once; a manifest of the wrong shape is reported, never a crash."""
    try:
        _names(obj)
        if obj.get("kind") in WORKLOAD_KINDS:
            pod = _pod_spec(obj)
            _mtls(obj, pod)
            _secret_refs(pod)
            _env_findings(path, "", pod)
        if obj.get("kind") == "Secret":
            for field in ("data", "stringData"):
                dict(obj.get(field) or {})
    except (AttributeError, TypeError, ValueError) as exc:
        line = obj.get("__line__") if isinstance(obj, dict) else None
        errors.append(f"{path}:{line}: {obj.get('kind')} has an unexpected structure ({type(exc).__name__})")
        return False
    return True


def coverage(tier0: list[str], manifests: Path, entries: list[WorkloadRegistration]) -> CoverageReport:
    errors: list[str] = []
    objects = [(p, o) for p, o in load_manifests(manifests, errors) if _well_formed(p, o, errors)]
    secrets: dict[str, list[Finding]] = {}
    for path, obj in objects:
        if obj.get("kind") == "Secret":
            name = str((obj.get("metadata") or {}).get("name", "?"))
            keys = [k for field in ("data", "stringData") for k in (obj.get(field) or {}) if k != "__line__"]
            if keys:
                secrets[name] = [Finding(file=str(path), line=obj.get("__line__"), object=f"Secret/{name}", key=k,
                                         kind="secret-object") for k in keys]
    used: set[str] = set()
    services = []
    for service in tier0:
        match = [(p, o) for p, o in objects if o.get("kind") in WORKLOAD_KINDS and service in _names(o)]
        cov = ServiceCoverage(service=service, found=bool(match), registered=False)
        if not match:
            cov.problems.append("no workload manifest found")
        mtls_modes = []
        for path, obj in match:
            pod = _pod_spec(obj)
            label = f"{obj['kind']}/{(obj.get('metadata') or {}).get('name', '?')}"
            entry = _registered(service, obj, pod, entries)
            if entry is not None:
                cov.registered, cov.spiffe_id = True, entry.spec.spiffe_id
            mtls_modes.append(_mtls(obj, pod))
            cov.plaintext_secrets += _env_findings(path, label, pod)
            for ref in sorted(_secret_refs(pod)):
                if ref in secrets:
                    used.add(ref)
                    cov.plaintext_secrets += secrets[ref]
        if match:
            order = ["none", "shadow", "mesh", "enforce"]
            cov.mtls = min(mtls_modes, key=order.index)
            if not cov.registered:
                cov.problems.append("not registered in identity/spiffeids.yaml")
            if cov.mtls in ("none", "shadow"):
                cov.problems.append("not behind an enforcing mTLS sidecar" + (" (shadow mode)" if cov.mtls == "shadow"
                                                                                else ""))
            if cov.plaintext_secrets:
                cov.problems.append(f"{len(cov.plaintext_secrets)} plaintext secret(s) in manifests")
        services.append(cov)
    unattributed = [f for name, fs in secrets.items() if name not in used for f in fs]
    return CoverageReport(services=services, unattributed_secrets=unattributed, errors=errors)


SARIF_RULES = [
    {"id": "identity/plaintext-secret", "shortDescription": {"text": "Plaintext secret in a tier-0 deployment"}},
    {"id": "identity/not-registered", "shortDescription": {"text": "Tier-0 service has no SPIFFE registration"}},
    {"id": "identity/no-mtls", "shortDescription": {"text": "Tier-0 service is not behind an enforcing mTLS sidecar"}},
    {"id": "identity/missing-manifest", "shortDescription": {"text": "Tier-0 service has no workload manifest"}},
]


def sarif_results(rep: CoverageReport) -> list[dict[str, Any]]:
    """SARIF results (secret values never included)."""
    def loc(file: str, line: int | None) -> list[dict[str, Any]]:
        region = {"region": {"startLine": line}} if line else {}
        return [{"physicalLocation": {"artifactLocation": {"uri": file}, **region}}]

    out: list[dict[str, Any]] = []
    for s in rep.services:
        for f in s.plaintext_secrets:
            out.append({"ruleId": "identity/plaintext-secret", "level": "error", "locations": loc(f.file, f.line),
                        "message": {"text": f"{s.service}: {f.object} key {f.key} ({f.kind})"}})
        for problem in s.problems:
            rule = ("identity/not-registered" if problem.startswith("not registered") else
                    "identity/no-mtls" if problem.startswith("not behind") else
                    "identity/missing-manifest" if problem.startswith("no workload") else None)
            if rule:
                out.append({"ruleId": rule, "level": "error", "message": {"text": f"{s.service}: {problem}"}})
    return out
