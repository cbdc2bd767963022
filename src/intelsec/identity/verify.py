"""Verify X.509-SVIDs and JWT-SVIDs against trust bundles with every rule of the SVID standards.

Verifiers collect *all* reasons a credential fails, each with a short stable code (used as a
metrics label) and a precise message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import BaseModel

from intelsec.identity.bundle import TrustBundle
from intelsec.identity.spiffeid import InvalidSpiffeId, SpiffeId, parse_spiffe_id

# The JWT-SVID standard allows RS/ES/PS 256-512; `none` and HMAC never.
JWT_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
MAX_CHAIN = 8


class Verdict(BaseModel):
    valid: bool
    spiffe_id: str | None
    trust_domain: str | None = None
    reasons: list[str]
    codes: list[str]
    claims: dict[str, Any] | None = None
    expires_at: datetime | None = None


@dataclass
class _Check:
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def fail(self, code: str, message: str) -> None:
        self.codes.append(code)
        self.reasons.append(message)


def _bundle_for(bundles: Mapping[str, TrustBundle] | TrustBundle, td: str) -> TrustBundle | None:
    if isinstance(bundles, TrustBundle):
        return bundles if bundles.trust_domain == td else None
    return bundles.get(td)


def _ext(cert: x509.Certificate, cls: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _check_dates(cert: x509.Certificate, now: datetime, what: str, chk: _Check) -> None:
    if now < cert.not_valid_before_utc:
        chk.fail("not_yet_valid", f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        chk.fail("expired", f"{what} expired at {cert.not_valid_after_utc.isoformat()}")


def leaf_spiffe_id(leaf: x509.Certificate, chk: _Check) -> SpiffeId | None:
    san = _ext(leaf, x509.SubjectAlternativeName)
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san is not None else []
    if san is None:
        chk.fail("no_san", "certificate has no subjectAltName extension")
        return None
    if len(uris) != 1:
        chk.fail("uri_san_count", f"certificate has {len(uris)} URI SANs; an X.509-SVID has exactly one")
        return None
    try:
        sid = parse_spiffe_id(uris[0])
    except InvalidSpiffeId as exc:
        chk.fail("bad_spiffe_id", f"URI SAN {uris[0]!r} is not a SPIFFE ID: {exc}")
        return None
    if not sid.path:
        chk.fail("no_path", f"leaf SPIFFE ID {sid} has no path (the trust domain's own ID is not a workload)")
    return sid


def _check_critical(cert: x509.Certificate, what: str, chk: _Check) -> None:
    """RFC 5280 (which the X.509-SVID standard's validation follows): unknown critical extensions fail."""
    for ext in cert.extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            chk.fail("unknown_critical_extension",
                     f"{what} has an unrecognised critical extension {ext.oid.dotted_string}")


def _check_leaf(leaf: x509.Certificate, chk: _Check) -> None:
    _check_critical(leaf, "leaf certificate", chk)
    bc = _ext(leaf, x509.BasicConstraints)
    if bc is not None and bc.ca:
        chk.fail("leaf_is_ca", "leaf certificate is a CA (basicConstraints cA=true)")
    ku = _ext(leaf, x509.KeyUsage)
    if ku is None:
        chk.fail("no_key_usage", "leaf certificate has no keyUsage extension")
    else:
        if not leaf.extensions.get_extension_for_class(x509.KeyUsage).critical:
            chk.fail("key_usage_not_critical", "leaf keyUsage extension is not marked critical")
        if not ku.digital_signature:
            chk.fail("no_digital_signature", "leaf keyUsage lacks digitalSignature")
        if ku.key_cert_sign or ku.crl_sign:
            chk.fail("leaf_can_sign", "leaf keyUsage sets keyCertSign or cRLSign")
    eku = _ext(leaf, x509.ExtendedKeyUsage)
    if eku is not None:
        missing = [n for n, oid in (("serverAuth", ExtendedKeyUsageOID.SERVER_AUTH),
                                    ("clientAuth", ExtendedKeyUsageOID.CLIENT_AUTH)) if oid not in eku]
        if missing:
            chk.fail("eku", f"leaf extendedKeyUsage lacks {' and '.join(missing)}")


_SIGNED: dict[tuple[bytes, bytes], bool] = {}  # (child, issuer) fingerprints already proven; CA links repeat
_SIGNED_MAX = 4096


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate, cache: bool = False) -> bool:
    """Name and signature check. With `cache`, a proven link (keyed by both full certificates) is remembered."""
    if cert.issuer != issuer.subject:
        return False
    key = (cert.fingerprint(hashes.SHA256()), issuer.fingerprint(hashes.SHA256())) if cache else None
    if key is not None and key in _SIGNED:
        return True
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, unsupported key type
        return False
    if key is not None:
        if len(_SIGNED) >= _SIGNED_MAX:
            _SIGNED.clear()
        _SIGNED[key] = True
    return True


def _check_chain(chain: Sequence[x509.Certificate], roots: list[x509.Certificate], td: str, now: datetime,
                 chk: _Check) -> None:
    """RFC 5280 path building to a root of `td`, plus the X.509-SVID rules for signing certificates."""
    current = chain[0]
    pool = list(chain[1:])
    for below in range(MAX_CHAIN):  # `below`: intermediates between the leaf and this issuer (pathLen)
        ca_link = below > 0  # the leaf's own signature is always checked afresh
        root = next((r for r in roots if _issued_by(current, r, ca_link)), None)
        issuer = root or next((c for c in pool if _issued_by(current, c, ca_link)), None)
        if issuer is None:
            chk.fail("untrusted_chain", f"certificate chain does not lead to a root of trust domain {td}")
            return
        bc, ku = _ext(issuer, x509.BasicConstraints), _ext(issuer, x509.KeyUsage)
        what = "bundle root" if root is not None else "intermediate certificate"
        if bc is None or not bc.ca or ku is None or not ku.key_cert_sign:
            chk.fail("bad_intermediate", f"{what} is not a signing CA (cA and keyCertSign)")
            return
        if bc.path_length is not None and below > bc.path_length:
            chk.fail("path_length", f"{what} allows {bc.path_length} intermediates below it, found {below}")
        issuer_id = _signing_id(issuer)
        if issuer_id is not None and issuer_id.path:
            chk.fail("signing_cert_path", f"{what} SPIFFE ID {issuer_id} has a path; signing certificates must not")
        if root is None and issuer_id is not None and issuer_id.trust_domain != td:
            chk.fail("intermediate_td", f"intermediate belongs to trust domain {issuer_id.trust_domain}, not {td}")
            return
        _check_dates(issuer, now, what, chk)
        _check_critical(issuer, what, chk)
        if root is not None:
            return
        pool.remove(issuer)
        current = issuer
    chk.fail("chain_too_long", f"certificate chain is longer than {MAX_CHAIN}")


def _signing_id(cert: x509.Certificate) -> SpiffeId | None:
    san = _ext(cert, x509.SubjectAlternativeName)
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier) if san is not None else []:
        try:
            return parse_spiffe_id(uri)
        except InvalidSpiffeId:
            continue
    return None


def _tls_chain_ok(leaf: x509.Certificate, td: str, bundles: Mapping[str, TrustBundle] | TrustBundle) -> bool:
    """With only the leaf of a TLS-verified chain: accept unless a root of another trust domain signed it."""
    all_bundles = [bundles] if isinstance(bundles, TrustBundle) else list(bundles.values())
    return not any(_issued_by(leaf, r) for b in all_bundles if b.trust_domain != td for r in b.x509_roots)


def verify_x509_svid(chain: Sequence[x509.Certificate], bundles: Mapping[str, TrustBundle] | TrustBundle,
                     now: datetime, trust_domain: str | None = None, tls_verified: bool = False) -> Verdict:
    """Check a presented chain (leaf first) against bundles keyed by trust domain.

    `tls_verified`: the TLS stack already built the path to a bundle root but handed over only the
    leaf; the chain check then only guards the trust-domain binding it can still see.
    """
    chk = _Check()
    if not chain:
        chk.fail("no_certificate", "no certificate presented")
        return Verdict(valid=False, spiffe_id=None, reasons=chk.reasons, codes=chk.codes)
    leaf = chain[0]
    sid = leaf_spiffe_id(leaf, chk)
    _check_leaf(leaf, chk)
    _check_dates(leaf, now, "certificate", chk)
    if sid is not None:
        if trust_domain is not None and sid.trust_domain != trust_domain:
            chk.fail("foreign_trust_domain", f"trust domain {sid.trust_domain} is not the expected {trust_domain}")
        bundle = _bundle_for(bundles, sid.trust_domain)
        if bundle is None or not bundle.x509_roots:
            chk.fail("no_bundle", f"no trust bundle for trust domain {sid.trust_domain}")
        elif tls_verified and len(chain) == 1 and not any(_issued_by(leaf, r) for r in bundle.x509_roots):
            if not _tls_chain_ok(leaf, sid.trust_domain, bundles):
                chk.fail("untrusted_chain", f"certificate chain does not lead to a root of trust domain "
                         f"{sid.trust_domain}")
        else:
            _check_chain(chain, bundle.x509_roots, sid.trust_domain, now, chk)
    return Verdict(valid=not chk.reasons, spiffe_id=str(sid) if sid else None,
                   trust_domain=sid.trust_domain if sid else None, reasons=chk.reasons, codes=chk.codes,
                   expires_at=leaf.not_valid_after_utc)


def verify_jwt_svid(token: str, bundles: Mapping[str, TrustBundle] | TrustBundle, audience: str | None,
                    now: datetime, trust_domain: str | None = None) -> Verdict:
    """Check a JWT-SVID: allowed algorithm, typ, key id (when set) in the bundle, signature, `sub`, `aud`, `exp`."""
    chk = _Check()

    def done(sid: SpiffeId | None = None, claims: dict[str, Any] | None = None) -> Verdict:
        return Verdict(valid=not chk.reasons, spiffe_id=str(sid) if sid else None,
                       trust_domain=sid.trust_domain if sid else None, reasons=chk.reasons, codes=chk.codes,
                       claims=claims if not chk.reasons else None)

    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        chk.fail("malformed", f"not a JWT: {exc}")
        return done()
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in JWT_ALGORITHMS:
        chk.fail("bad_alg", f"algorithm {alg!r} is not allowed (allowed: ES*, RS*, PS*)")
        return done()
    if header.get("typ") not in (None, "JWT", "JOSE"):
        chk.fail("bad_typ", f"typ {header.get('typ')!r} is not JWT or JOSE")
    kid = header.get("kid")
    try:
        sid = parse_spiffe_id(str(unverified.get("sub", "")))
    except InvalidSpiffeId as exc:
        chk.fail("bad_sub", f"sub is not a SPIFFE ID: {exc}")
        return done()
    if trust_domain is not None and sid.trust_domain != trust_domain:
        chk.fail("foreign_trust_domain", f"trust domain {sid.trust_domain} is not the expected {trust_domain}")
    bundle = _bundle_for(bundles, sid.trust_domain)
    if bundle is None or not bundle.jwt_keys:
        chk.fail("no_bundle", f"no JWT trust bundle for trust domain {sid.trust_domain}")
        return done(sid)
    if kid and kid not in bundle.jwt_keys:
        chk.fail("unknown_kid", f"key id {kid!r} is not in the bundle of {sid.trust_domain}")
        return done(sid)
    # `kid` is optional in JWT-SVIDs: without one, any key of the trust domain may have signed it.
    keys = [bundle.jwt_keys[kid]] if kid else list(bundle.jwt_keys.values())
    # PyJWT raises TypeError (not a PyJWTError) for an RSA algorithm with an EC key: match families first.
    keys = [k for k in keys if isinstance(k, ec.EllipticCurvePublicKey) == alg.startswith("ES")]
    if not keys:
        chk.fail("alg_key_mismatch", f"algorithm {alg} does not fit the {'key' if kid else 'keys'} of "
                 f"{sid.trust_domain}'s bundle")
        return done(sid)
    claims: dict[str, Any] | None = None
    error: jwt.PyJWTError | None = None
    for key in keys:
        try:
            claims = jwt.decode(token, key, algorithms=[alg],
                                options={"verify_exp": False, "verify_aud": False, "verify_iat": False,
                                         "verify_nbf": False, "require": ["sub", "aud", "exp"]})
            break
        except jwt.PyJWTError as exc:
            error = exc
    if claims is None:
        bad_sig = isinstance(error, jwt.InvalidSignatureError | jwt.InvalidKeyError)
        chk.fail("bad_signature" if bad_sig else "invalid", f"JWT rejected: {error}")
        return done(sid)
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or not math.isfinite(exp):  # NaN never expires
        chk.fail("no_exp", "exp claim is missing or not a finite number")
    elif now.timestamp() >= exp:
        chk.fail("expired", f"JWT-SVID expired at {datetime.fromtimestamp(exp, UTC).isoformat()}")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and now.timestamp() < nbf:
        chk.fail("not_yet_valid", "JWT-SVID is not valid yet (nbf)")
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not auds or not all(isinstance(a, str) for a in auds):
        chk.fail("no_aud", "aud claim is empty or not a string or list of strings")
    elif audience is not None and audience not in auds:
        chk.fail("wrong_audience", f"audience {auds} does not include {audience!r}")
    return done(sid, claims)
