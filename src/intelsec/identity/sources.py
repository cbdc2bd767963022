"""Where a workload's SVID comes from: files on disk (reloaded on change) or the Workload API.

Both give a `Material` with a version that changes on rotation, so servers and clients rebuild
their TLS contexts without a restart.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

from cryptography import x509

from intelsec.errors import InputError
from intelsec.identity.bundle import TrustBundle, load_bundle
from intelsec.identity.tlsconfig import Material
from intelsec.identity.verify import _Check, leaf_spiffe_id


class SvidSource(Protocol):
    def material(self) -> Material: ...


def _spiffe_id_of(chain_pem: bytes, where: str) -> tuple[str, object]:
    try:
        leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    except ValueError:
        raise InputError(f"{where}: no PEM certificate") from None
    chk = _Check()
    sid = leaf_spiffe_id(leaf, chk)
    if sid is None:
        raise InputError(f"{where}: not an X.509-SVID: {'; '.join(chk.reasons)}")
    return str(sid), leaf.not_valid_after_utc


class FileSource:
    """svid.pem + svid.key + bundle files; re-read when any of them changes (checked once a second)."""

    def __init__(self, cert: Path, key: Path, bundles: list[Path], trust_domain: str | None = None) -> None:
        self.cert, self.key, self.bundle_paths, self.trust_domain = cert, key, bundles, trust_domain
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] = ()
        self._checked = 0.0
        self._material: Material | None = None

    def _mtimes(self) -> tuple[float, ...]:
        try:
            return tuple(p.stat().st_mtime_ns for p in (self.cert, self.key, *self.bundle_paths))
        except OSError as exc:
            raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from None

    def material(self) -> Material:
        with self._lock:
            now = time.monotonic()
            if self._material is not None and now - self._checked < 1.0:
                return self._material
            self._checked = now
            stamp = self._mtimes()
            if self._material is None or stamp != self._stamp:
                chain = self.cert.read_bytes()
                sid, expires = _spiffe_id_of(chain, str(self.cert))
                bundles: dict[str, TrustBundle] = {}
                for p in self.bundle_paths:
                    b = load_bundle(p, self.trust_domain if len(self.bundle_paths) == 1 else None)
                    bundles[b.trust_domain] = b
                version = (self._material.version + 1) if self._material else 1
                self._material = Material(sid, chain, self.key.read_bytes(), bundles, version, expires)
                self._stamp = stamp
            return self._material
