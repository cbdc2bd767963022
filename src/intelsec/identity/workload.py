"""SVIDs from any SPIFFE Workload API (SPIRE or `intelsec identity agent`), via py-spiffe's X509Source.

Only `SPIFFE_ENDPOINT_SOCKET` (or a socket path) is needed, so the sidecar and broker run
unchanged against a real SPIRE agent.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from intelsec.errors import ConfigError
from intelsec.identity.bundle import TrustBundle
from intelsec.identity.tlsconfig import Material


def _endpoint(socket: str | None) -> str | None:
    if socket is None or socket.startswith(("unix:", "tcp:")):
        return socket
    return f"unix:{socket}"


class WorkloadApiSource:
    """Current SVID + X.509 and JWT bundles from the Workload API streams; `version` bumps on every update."""

    def __init__(self, socket: str | None = None, timeout: float = 10.0) -> None:
        from spiffe import JwtSource, X509Source

        try:
            self._source = X509Source(socket_path=_endpoint(socket), timeout_in_seconds=timeout)
            self._jwt = JwtSource(socket_path=_endpoint(socket), timeout_in_seconds=timeout)
        except Exception as exc:  # py-spiffe raises several error types for an unreachable agent
            raise ConfigError(f"Workload API at {socket or '$SPIFFE_ENDPOINT_SOCKET'}: {exc}") from None
        self._lock = threading.Lock()
        self._version = 1
        self._material: Material | None = None
        self._jwts: dict[str, tuple[str, float]] = {}
        self._source.subscribe_for_updates(self._bump)
        self._jwt.subscribe_for_updates(self._bump)

    def _bump(self) -> None:
        with self._lock:
            self._version += 1

    def material(self) -> Material:
        with self._lock:
            version = self._version
            if self._material is not None and self._material.version == version:
                return self._material
        svid = self._source.svid
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in svid.cert_chain)
        key = svid.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        bundles = {str(b.trust_domain): TrustBundle(str(b.trust_domain), list(b.x509_authorities))
                   for b in self._source.bundles}
        for jb in self._jwt.bundles:
            td = str(jb.trust_domain)
            keys = bundles.setdefault(td, TrustBundle(td)).jwt_keys
            for kid, pub in jb.jwt_authorities.items():
                if isinstance(pub, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):  # JWT-SVID algorithms only
                    keys[kid] = pub
        m = Material(str(svid.spiffe_id), chain, key, bundles, version, svid.leaf.not_valid_after_utc)
        with self._lock:
            self._material = m
        return m

    def jwt_svid(self, audience: str) -> str:
        """A JWT-SVID for `audience`, reused until 30 s before it expires."""
        import time

        with self._lock:
            cached = self._jwts.get(audience)
        if cached is not None and cached[1] - 30 > time.time():
            return cached[0]
        svid = self._jwt.fetch_svid({audience})
        with self._lock:
            self._jwts[audience] = (svid.token, float(svid.expiry))
        return svid.token

    def close(self) -> None:
        self._source.close()
        self._jwt.close()
