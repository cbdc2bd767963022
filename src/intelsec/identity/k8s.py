"""Kubernetes workload attestation: pid -> pod (via cgroups) -> selectors from the kubelet's pod list.

Gives `k8s:ns`, `k8s:sa`, `k8s:pod-name`, `k8s:pod-uid`, `k8s:pod-label` (`key:value`),
`k8s:node-name`, and, when the container is found, `k8s:container-name` / `k8s:container-image`.
The pod list comes from the kubelet's `/pods` endpoint (URL, bearer token file) or a JSON file.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from intelsec.identity.attest import Selector

POD_UID = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")
CONTAINER_ID = re.compile(r"([0-9a-f]{64})")


def pod_of(pid: int, proc_root: Path = Path("/proc")) -> tuple[str, str | None] | None:
    """(pod UID, container ID) of a process from its cgroup paths, or None outside Kubernetes."""
    try:
        text = (proc_root / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        m = POD_UID.search(line)
        if m:
            c = CONTAINER_ID.findall(line)
            return m.group(1).replace("_", "-"), (c[-1] if c else None)
    return None


class K8sAttestor:
    def __init__(self, pods: str, token_file: Path | None = None, proc_root: Path = Path("/proc"),
                 cache_seconds: float = 5.0, verify: bool | str = True) -> None:
        self.pods, self.token_file, self.proc_root = pods, token_file, proc_root
        self.cache_seconds, self.verify = cache_seconds, verify
        self._cache: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()

    def _pod_list(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._cache and time.monotonic() - self._cache[0] < self.cache_seconds:
                return self._cache[1]
        if self.pods.startswith(("http://", "https://")):
            headers = {}
            if self.token_file is not None:
                headers["authorization"] = "Bearer " + self.token_file.read_text().strip()
            r = httpx.get(self.pods, headers=headers, timeout=5, verify=self.verify)
            r.raise_for_status()
            doc = r.json()
        else:
            doc = json.loads(Path(self.pods).read_text())
        raw = doc.get("items") if isinstance(doc, dict) else None
        items = [p for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []
        with self._lock:
            self._cache = (time.monotonic(), items)
        return items

    def selectors(self, pid: int) -> set[Selector]:
        found = pod_of(pid, self.proc_root)
        if found is None:
            return set()
        uid, container_id = found
        try:
            pods = self._pod_list()
        except (OSError, ValueError, httpx.HTTPError):
            return set()  # no pod list, no k8s selectors: registrations needing them do not match
        pod = next((p for p in pods if (p.get("metadata") or {}).get("uid") == uid), None)
        if pod is None:
            return set()
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        sel: set[Selector] = {("k8s:pod-uid", uid), ("k8s:ns", str(meta.get("namespace", "default"))),
                              ("k8s:sa", str(spec.get("serviceAccountName") or "default")),
                              ("k8s:pod-name", str(meta.get("name", "")))}
        if spec.get("nodeName"):
            sel.add(("k8s:node-name", str(spec["nodeName"])))
        sel |= {("k8s:pod-label", f"{k}:{v}") for k, v in (meta.get("labels") or {}).items()}
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if container_id and str(cs.get("containerID", "")).endswith(container_id):
                sel |= {("k8s:container-name", str(cs.get("name"))), ("k8s:container-image", str(cs.get("image")))}
        return sel
