"""TLS contexts built from SVID material: mutual TLS that trusts SPIFFE bundles, not the web PKI.

Client contexts check the server's SPIFFE ID inside the handshake (through SSLContext's socket and
object classes), so no request byte leaves before the peer is known to be the right workload.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from intelsec.clock import utcnow
from intelsec.errors import InputError
from intelsec.identity.bundle import TrustBundle
from intelsec.identity.verify import Verdict, verify_x509_svid

# Given the server's verdict, return None to accept or a reason to refuse.
PeerCheck = Callable[[Verdict], str | None]


@dataclass
class Material:
    """What a workload holds: its SVID chain and key (PEM) and the bundles it trusts."""

    spiffe_id: str
    chain_pem: bytes
    key_pem: bytes
    bundles: dict[str, TrustBundle]
    version: int = 0
    expires_at: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def roots_pem(self) -> bytes:
        return b"".join(b.pem() for b in self.bundles.values())

    def __repr__(self) -> str:
        return f"Material({self.spiffe_id}, v{self.version})"


def _load_chain(ctx: ssl.SSLContext, material: Material) -> None:
    """ssl can only load keys from files: use a private temp dir and remove it at once."""
    with tempfile.TemporaryDirectory(prefix="intelsec-svid-") as d:
        cert, key = Path(d, "c.pem"), Path(d, "k.pem")
        cert.write_bytes(material.chain_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(material.key_pem)
        try:
            ctx.load_cert_chain(cert, key)
        except ssl.SSLError as exc:
            raise InputError(f"SVID of {material.spiffe_id}: cannot use its certificate and key "
                             f"({exc.reason or exc})") from None


def _base(material: Material, purpose: ssl.Purpose) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if purpose is ssl.Purpose.CLIENT_AUTH else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    roots = material.roots_pem()
    if roots:
        ctx.load_verify_locations(cadata=roots.decode())
    _load_chain(ctx, material)
    return ctx


def server_context(material: Material, require_client_cert: bool = True) -> ssl.SSLContext:
    ctx = _base(material, ssl.Purpose.CLIENT_AUTH)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def _der(cert: Any) -> bytes:
    if isinstance(cert, bytes | bytearray):
        return bytes(cert)
    return bytes(cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]  # _ssl.Certificate


def peer_chain(ssl_object: Any) -> list[x509.Certificate]:
    """The peer's verified chain (leaf first, up to the bundle root); just the leaf if unavailable.

    Python 3.13 exposes `get_verified_chain()`; 3.10-3.12 have it on the private `_sslobj`.
    """
    getter = getattr(ssl_object, "get_verified_chain", None) or getattr(
        getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
    if getter is not None:
        with contextlib.suppress(Exception):  # fall back to the leaf below
            chain = [x509.load_der_x509_certificate(_der(c)) for c in getter() or []]
            if chain:
                return chain
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    return [x509.load_der_x509_certificate(der)] if der else []


def peer_verdict(ssl_object: Any, bundles: dict[str, TrustBundle]) -> Verdict:
    """SPIFFE verdict for a peer whose chain OpenSSL has already verified against `bundles`."""
    return verify_x509_svid(peer_chain(ssl_object), bundles, utcnow(), tls_verified=True)


def expect_id(spiffe_id: str | None = None, trust_domain: str | None = None) -> PeerCheck:
    def check(v: Verdict) -> str | None:
        if not v.valid:
            return "; ".join(v.reasons)
        if spiffe_id is not None and v.spiffe_id != spiffe_id:
            return f"server is {v.spiffe_id}, expected {spiffe_id}"
        if trust_domain is not None and v.trust_domain != trust_domain:
            return f"server trust domain is {v.trust_domain}, expected {trust_domain}"
        return None
    return check


def client_context(material: Material, check: PeerCheck) -> ssl.SSLContext:
    """A client context presenting our SVID and refusing servers that `check` rejects, mid-handshake."""
    ctx = _base(material, ssl.Purpose.SERVER_AUTH)
    bundles = material.bundles

    def verify(obj: Any) -> None:
        reason = check(peer_verdict(obj, bundles))
        if reason is not None:
            raise ssl.SSLCertVerificationError(f"SPIFFE peer check failed: {reason}")

    class _Sock(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            verify(self)

    class _Obj(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            verify(self)

    ctx.sslsocket_class = _Sock
    ctx.sslobject_class = _Obj
    return ctx
