"""A local certificate authority for one trust domain: X.509-SVIDs and JWT-SVIDs without SPIRE.

Layout of a CA directory: `ca.json` (metadata), `root.pem`, optional `intermediate.pem`,
`bundle.pem` / `bundle.json` (what verifiers need) and `keys/` (the key store, mode 0700/0600).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel

from intelsec.clock import Clock, SystemClock
from intelsec.errors import ConfigError, InputError
from intelsec.identity.bundle import TrustBundle
from intelsec.identity.keystore import FileKeyStore, KeyStore, SigningKey, key_pem, new_key, write_private
from intelsec.identity.spiffeid import InvalidSpiffeId, SpiffeId, parse_spiffe_id, validate_trust_domain

BACKDATE = timedelta(seconds=10)  # tolerate small clock skew between issuer and verifier
JWT_ALG = "ES256"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME = re.compile(rf"(\*\.)?({_LABEL}\.)*{_LABEL}")


class CaMeta(BaseModel):
    trust_domain: str
    jwt_kid: str
    intermediate: bool
    created_at: datetime


@dataclass
class IssuedSvid:
    spiffe_id: str
    chain: list[x509.Certificate]  # leaf first, then intermediates (never the root)
    key: SigningKey

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def expires_at(self) -> datetime:
        return self.leaf.not_valid_after_utc

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def chain_der(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.DER) for c in self.chain)

    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def key_der(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def __repr__(self) -> str:
        return f"IssuedSvid({self.spiffe_id}, expires {self.expires_at.isoformat()})"


def _ski(key: SigningKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _ca_cert(subject: x509.Name, key: SigningKey, issuer: x509.Name, issuer_key: SigningKey, td: str,
             not_before: datetime, not_after: datetime, path_len: int | None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"spiffe://{td}")]),
                       critical=False)
        .add_extension(_ski(key), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _name(td: str, cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, td), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read CA certificate: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path}: not a PEM certificate") from None


class LocalCA:
    """Signs SVIDs for one trust domain with keys from a KeyStore."""

    def __init__(self, directory: Path, meta: CaMeta, keystore: KeyStore, root: x509.Certificate,
                 intermediate: x509.Certificate | None, clock: Clock | None = None) -> None:
        self.directory = directory
        self.meta = meta
        self.keystore = keystore
        self.root = root
        self.intermediate = intermediate
        self.clock = clock or SystemClock()

    @property
    def trust_domain(self) -> str:
        return self.meta.trust_domain

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def init(cls, directory: Path, trust_domain: str, intermediate: bool = False, ttl: timedelta = timedelta(days=365),
             clock: Clock | None = None, keystore: KeyStore | None = None) -> LocalCA:
        try:
            validate_trust_domain(trust_domain)
        except InvalidSpiffeId as exc:
            raise InputError(f"invalid trust domain {trust_domain!r}: {exc}") from None
        if (directory / "ca.json").exists():
            raise ConfigError(f"{directory}: a CA already exists here; refusing to overwrite it")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{directory}: cannot create the CA directory: {exc.strerror}") from None
        clock = clock or SystemClock()
        keystore = keystore or FileKeyStore(directory / "keys")
        now = clock.now()
        root_key = keystore.create("root")
        root_name = _name(trust_domain, f"intelsec root CA {trust_domain}")
        root = _ca_cert(root_name, root_key, root_name, root_key, trust_domain, now - BACKDATE, now + ttl,
                        1 if intermediate else 0)
        inter = None
        if intermediate:
            inter_key = keystore.create("intermediate")
            inter = _ca_cert(_name(trust_domain, f"intelsec intermediate CA {trust_domain}"), inter_key, root_name,
                             root_key, trust_domain, now - BACKDATE, now + ttl, 0)
        keystore.create("jwt")
        meta = CaMeta(trust_domain=trust_domain, jwt_kid=secrets.token_hex(8), intermediate=intermediate,
                      created_at=now)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
        if inter is not None:
            (directory / "intermediate.pem").write_bytes(inter.public_bytes(serialization.Encoding.PEM))
        (directory / "ca.json").write_text(meta.model_dump_json(indent=2) + "\n")
        ca = cls(directory, meta, keystore, root, inter, clock)
        ca.write_bundles()
        return ca

    @classmethod
    def load(cls, directory: Path, clock: Clock | None = None, keystore: KeyStore | None = None) -> LocalCA:
        meta_path = directory / "ca.json"
        if not meta_path.is_file():
            raise ConfigError(f"{directory}: no CA here; create one with `intelsec identity ca init --trust-domain TD`")
        try:
            meta = CaMeta.model_validate_json(meta_path.read_text())
        except ValueError as exc:
            raise ConfigError(f"{meta_path}: invalid CA metadata: {exc}") from None
        root = _load_cert(directory / "root.pem")
        inter = _load_cert(directory / "intermediate.pem") if meta.intermediate else None
        return cls(directory, meta, keystore or FileKeyStore(directory / "keys"), root, inter, clock)

    def bundle(self) -> TrustBundle:
        jwt_key = self.keystore.get("jwt").public_key()
        return TrustBundle(self.trust_domain, [self.root], {self.meta.jwt_kid: jwt_key})

    def write_bundles(self) -> None:
        b = self.bundle()
        (self.directory / "bundle.pem").write_bytes(b.pem())
        (self.directory / "bundle.json").write_text(json.dumps(b.spiffe_json(), indent=2) + "\n")

    # -- issuance --------------------------------------------------------------------------------
    def _signer(self) -> tuple[x509.Certificate, SigningKey]:
        if self.intermediate is not None:
            return self.intermediate, self.keystore.get("intermediate")
        return self.root, self.keystore.get("root")

    def _check_id(self, spiffe_id: str) -> SpiffeId:
        try:
            sid = parse_spiffe_id(spiffe_id)
        except InvalidSpiffeId as exc:
            raise InputError(f"invalid SPIFFE ID {spiffe_id!r}: {exc}") from None
        if sid.trust_domain != self.trust_domain:
            raise InputError(f"{spiffe_id} is not in this CA's trust domain {self.trust_domain}")
        if not sid.path:
            raise InputError("an SVID's SPIFFE ID needs a path (the bare trust domain ID is reserved)")
        return sid

    def issue_x509(self, spiffe_id: str, ttl: timedelta = timedelta(hours=1), key: SigningKey | None = None,
                   dns_names: list[str] | None = None) -> IssuedSvid:
        """An X.509-SVID: one URI SAN, not a CA, digitalSignature, serverAuth + clientAuth."""
        sid = self._check_id(spiffe_id)
        key = key or new_key()
        signer, signer_key = self._signer()
        now = self.clock.now()
        not_after = min(now + ttl, signer.not_valid_after_utc)
        if not_after <= now:
            raise ConfigError(f"{self.directory}: the signing CA certificate expired at "
                              f"{signer.not_valid_after_utc.isoformat()}; create a new CA")
        for d in dns_names or []:
            if not DNS_NAME.fullmatch(d):
                raise InputError(f"--dns {d!r} is not a DNS name")
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(str(sid))]
        sans += [x509.DNSName(d) for d in dns_names or []]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIFFE")]))
            .issuer_name(signer.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(_ski(key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                           critical=False)
            .sign(signer_key, hashes.SHA256())
        )
        chain = [cert] + ([self.intermediate] if self.intermediate is not None else [])
        return IssuedSvid(str(sid), chain, key)

    def issue_jwt(self, spiffe_id: str, audience: list[str], ttl: timedelta = timedelta(minutes=5)) -> str:
        """A JWT-SVID signed with ES256: `sub`, `aud`, `exp`, `iat`, and the bundle's key id."""
        sid = self._check_id(spiffe_id)
        if not audience:
            raise InputError("a JWT-SVID needs at least one audience")
        now = self.clock.now()
        claims = {"sub": str(sid), "aud": audience, "iat": int(now.timestamp()),
                  "exp": int((now + ttl).timestamp())}
        return jwt.encode(claims, self.keystore.get("jwt"), algorithm=JWT_ALG,
                          headers={"kid": self.meta.jwt_kid, "typ": "JWT"})


def write_svid(svid: IssuedSvid, bundle: TrustBundle, out: Path) -> dict[str, str]:
    """Write svid.pem (chain), svid.key (0600) and bundle.pem into `out`."""
    paths = {"cert": out / "svid.pem", "key": out / "svid.key", "bundle": out / "bundle.pem"}
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_private(paths["key"], svid.key_pem())
        paths["cert"].write_bytes(svid.chain_pem())
        paths["bundle"].write_bytes(bundle.pem())
    except OSError as exc:
        raise InputError(f"{exc.filename or out}: cannot write the SVID: {exc.strerror}") from None
    return {k: str(v) for k, v in paths.items()}
