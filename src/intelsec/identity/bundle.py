"""Trust bundles: a trust domain's X.509 roots and JWT keys, as PEM or SPIFFE bundle (JWKS) files."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from intelsec.errors import InputError
from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id, validate_trust_domain

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass
class TrustBundle:
    trust_domain: str
    x509_roots: list[x509.Certificate] = field(default_factory=list)
    jwt_keys: dict[str, PublicKey] = field(default_factory=dict)
    sequence: int = 0

    def pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.x509_roots)

    def der(self) -> bytes:
        """Concatenated DER roots, the Workload API's bundle encoding."""
        return b"".join(c.public_bytes(serialization.Encoding.DER) for c in self.x509_roots)

    def jwt_jwks(self) -> dict[str, Any]:
        return {"keys": [_jwk(k, kid, "jwt-svid") for kid, k in sorted(self.jwt_keys.items())]}

    def spiffe_json(self) -> dict[str, Any]:
        """The SPIFFE bundle format: one JWKS with `x509-svid` and `jwt-svid` keys."""
        keys = [_jwk(c.public_key(), None, "x509-svid", c) for c in self.x509_roots]  # type: ignore[arg-type]
        keys += self.jwt_jwks()["keys"]
        return {"keys": keys, "spiffe_sequence": self.sequence}


def _jwk(key: PublicKey, kid: str | None, use: str, cert: x509.Certificate | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key) if isinstance(
        key, ec.EllipticCurvePublicKey) else jwt.algorithms.RSAAlgorithm.to_jwk(key))
    data["use"] = use
    if kid:
        data["kid"] = kid
    if cert is not None:
        data["x5c"] = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    return data


def cert_spiffe_td(cert: x509.Certificate) -> str | None:
    """The trust domain named by a CA certificate's URI SAN (`spiffe://td`), if it has one."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        try:
            return parse_spiffe_id(uri).trust_domain
        except InvalidSpiffeId:
            continue
    return None


def load_pem_certs(data: bytes, where: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InputError(f"{where}: no PEM certificates found") from None
    return certs


def parse_spiffe_json(data: bytes, where: str) -> TrustBundle:
    """The keys of a SPIFFE bundle document; the caller names its trust domain."""
    try:
        doc = json.loads(data)
        keys = doc["keys"]
        sequence = doc.get("spiffe_sequence") or 0
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        keys = None
    if not isinstance(keys, list) or not isinstance(sequence, int):
        raise InputError(f"{where}: not a SPIFFE bundle (JWKS with a `keys` list)")
    bundle = TrustBundle("", sequence=sequence)
    for i, k in enumerate(keys):
        if not isinstance(k, dict):
            raise InputError(f"{where}: keys[{i}]: not a JSON object")
        use = k.get("use")
        if use == "x509-svid":
            if not k.get("x5c"):
                continue  # the bundle standard says: ignore x509-svid entries without x5c
            try:  # only the first x5c value counts
                bundle.x509_roots.append(x509.load_der_x509_certificate(base64.b64decode(k["x5c"][0])))
            except (ValueError, TypeError):
                raise InputError(f"{where}: keys[{i}]: x5c is not a base64 DER certificate") from None
        elif use == "jwt-svid" or use is None:
            if not k.get("kid"):
                raise InputError(f"{where}: keys[{i}]: jwt-svid key has no kid")
            try:
                key = jwt.PyJWK(k).key
            except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
                raise InputError(f"{where}: keys[{i}]: {exc}") from None
            if not isinstance(key, PublicKey):  # e.g. an `oct` (HMAC) key: never a JWT-SVID key
                raise InputError(f"{where}: keys[{i}]: jwt-svid key must be an EC or RSA public key")
            bundle.jwt_keys[str(k["kid"])] = key
    return bundle


def load_bundle(path: Path, trust_domain: str | None = None) -> TrustBundle:
    """Load a PEM or SPIFFE-JSON bundle. The roots' own `spiffe://td` URI SAN names its trust domain;
    `trust_domain` only labels bundles whose roots name none (so it cannot relabel another's roots)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read bundle: {exc.strerror}") from None
    if trust_domain is not None:
        try:
            validate_trust_domain(trust_domain)
        except InvalidSpiffeId as exc:
            raise InputError(f"invalid trust domain {trust_domain!r}: {exc}") from None
    if data.lstrip().startswith(b"{"):
        bundle = parse_spiffe_json(data, str(path))
    else:
        bundle = TrustBundle("", load_pem_certs(data, str(path)))
    named = sorted({t for t in map(cert_spiffe_td, bundle.x509_roots) if t})
    if len(named) > 1:
        raise InputError(f"{path}: holds roots of several trust domains ({', '.join(named)}); "
                         "use one bundle file per trust domain")
    bundle.trust_domain = named[0] if named else (trust_domain or "")
    if not bundle.trust_domain:
        raise InputError(f"{path}: cannot tell which trust domain this bundle belongs to; pass --trust-domain")
    return bundle
