"""Workload attestation: who is on the other end of a Unix socket, and which registrations match.

Selectors follow SPIRE's unix attestor (`unix:uid`, `unix:gid`, `unix:user`, `unix:group`,
`unix:path`, `unix:sha256`). A registration matches when all of its selectors are among the
workload's. k8s selectors are parsed but only match when a k8s attestor supplies them.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from intelsec.identity.schemas import WorkloadRegistration
from intelsec.yamlio import load_model

Selector = tuple[str, str]


@dataclass(frozen=True)
class PeerCred:
    pid: int
    uid: int
    gid: int


def peer_cred(sock: socket.socket) -> PeerCred:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCred(pid, uid, gid)


def load_registrations(path: Path) -> list[WorkloadRegistration]:
    """Load `identity/spiffeids.yaml`; a malformed file raises ConfigError naming file:line."""
    return load_model(path, list[WorkloadRegistration])  # type: ignore[arg-type]


def unix_selectors(cred: PeerCred, want_sha256: bool = False) -> set[Selector]:
    sel: set[Selector] = {("unix:uid", str(cred.uid)), ("unix:gid", str(cred.gid))}
    with contextlib.suppress(KeyError):
        sel.add(("unix:user", pwd.getpwuid(cred.uid).pw_name))
    with contextlib.suppress(KeyError):
        sel.add(("unix:group", grp.getgrgid(cred.gid).gr_name))
    try:
        exe = os.readlink(f"/proc/{cred.pid}/exe")
    except OSError:
        return sel  # the process is gone or hidden: path selectors cannot match
    sel.add(("unix:path", exe))
    if want_sha256:
        with contextlib.suppress(OSError):
            sel.add(("unix:sha256", hashlib.sha256(Path(exe).read_bytes()).hexdigest()))
    return sel


def matching(entries: list[WorkloadRegistration], selectors: set[Selector]) -> list[WorkloadRegistration]:
    return [e for e in entries if e.spec.selector_pairs() <= selectors]


def needs_sha256(entries: list[WorkloadRegistration]) -> bool:
    return any(k == "unix:sha256" for e in entries for k, _ in e.spec.selector_pairs())
