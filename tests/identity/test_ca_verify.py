"""Local CA, X.509-SVID and JWT-SVID issuance and verification, with every bad input the standards name."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from intelsec.clock import FrozenClock
from intelsec.errors import ConfigError, InputError
from intelsec.identity.bundle import TrustBundle, load_bundle
from intelsec.identity.ca import LocalCA, write_svid
from intelsec.identity.keystore import new_key
from intelsec.identity.verify import verify_jwt_svid, verify_x509_svid
from tests.clirunner import invoke

SID = "spiffe://example.com/ns/prod/sa/payments"


def craft(ca: LocalCA, *, uris: list[str] | None = None, ca_flag: bool = False, ku: bool = True,
          cert_sign: bool = False, eku: list[x509.ObjectIdentifier] | None = None,
          days: tuple[int, int] = (-1, 1), san: bool = True, ku_critical: bool = True,
          unknown_critical: bool = False) -> x509.Certificate:
    """A leaf signed by the CA root with exactly the defects asked for."""
    key = new_key()
    now = ca.clock.now()
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
         .issuer_name(ca.root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + timedelta(days=days[0])).not_valid_after(now + timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True))
    if ku:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, cert_sign, False, False, False),
                            ku_critical)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if unknown_critical:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"),
                            critical=True)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(u) for u in (uris if uris is not None else [SID])]), critical=False)
    return b.sign(ca.keystore.get("root"), hashes.SHA256())


def test_issued_svid_meets_the_standard(ca: LocalCA, clock: FrozenClock) -> None:
    svid = ca.issue_x509(SID, timedelta(hours=1))
    leaf = svid.leaf
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [SID]
    assert leaf.not_valid_after_utc == clock.now() + timedelta(hours=1)
    v = verify_x509_svid(svid.chain, ca.bundle(), clock.now(), "example.com")
    assert v.valid and v.spiffe_id == SID and v.reasons == []


def test_py_spiffe_accepts_our_svid_and_bundle(ca_inter: LocalCA) -> None:
    from spiffe import JwtBundle, TrustDomain, X509Bundle, X509Svid

    svid = ca_inter.issue_x509(SID)
    parsed = X509Svid.parse(svid.chain_pem(), svid.key_pem())
    assert str(parsed.spiffe_id) == SID and len(parsed.cert_chain) == 2
    X509Bundle.parse(TrustDomain("example.com"), ca_inter.bundle().pem())
    jb = JwtBundle.parse(TrustDomain("example.com"), json.dumps(ca_inter.bundle().jwt_jwks()).encode())
    assert jb.get_jwt_authority(ca_inter.meta.jwt_kid) is not None


def test_intermediate_chain_verifies_and_needs_the_intermediate(ca_inter: LocalCA, clock: FrozenClock) -> None:
    svid = ca_inter.issue_x509(SID)
    assert verify_x509_svid(svid.chain, ca_inter.bundle(), clock.now()).valid
    v = verify_x509_svid(svid.chain[:1], ca_inter.bundle(), clock.now())
    assert not v.valid and v.codes == ["untrusted_chain"]


def test_key_files_are_private(ca: LocalCA) -> None:
    keys = ca.directory / "keys"
    for name in ("root", "jwt"):
        assert stat.S_IMODE((keys / f"{name}.key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    os.chmod(keys / "root.key.pem", 0o644)
    with pytest.raises(ConfigError, match="too open"):
        ca.issue_x509(SID)


def test_ca_init_refuses_to_overwrite_and_bad_trust_domain(ca: LocalCA, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        LocalCA.init(ca.directory, "example.com")
    with pytest.raises(InputError, match="lowercase"):
        LocalCA.init(tmp_path / "bad", "Example.com")
    with pytest.raises(InputError, match="not in this CA's trust domain"):
        ca.issue_x509("spiffe://other.org/x")
    with pytest.raises(InputError, match="needs a path"):
        ca.issue_x509("spiffe://example.com")
    with pytest.raises(InputError, match="not a DNS name"):
        ca.issue_x509(SID, dns_names=["bad name!"])
    assert ca.issue_x509(SID, dns_names=["payments.prod.svc", "*.example.com"]).leaf


def test_unwritable_ca_or_svid_directory_is_a_clear_error(ca: LocalCA, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot create the CA directory"):
        LocalCA.init(blocker / "ca", "example.com")
    with pytest.raises(InputError, match="cannot write the SVID"):
        write_svid(ca.issue_x509(SID), ca.bundle(), blocker / "svid")


def test_expired_or_damaged_ca_is_a_clear_error(tmp_path: Path, clock: FrozenClock) -> None:
    ca = LocalCA.init(tmp_path / "short", "example.com", ttl=timedelta(hours=1), clock=clock)
    clock.advance(7200)
    with pytest.raises(ConfigError, match="signing CA certificate expired"):
        ca.issue_x509(SID)
    (ca.directory / "root.pem").unlink()
    with pytest.raises(ConfigError, match="root.pem: cannot read CA certificate"):
        LocalCA.load(ca.directory)


@pytest.mark.parametrize(("kwargs", "code", "text"), [
    ({"ca_flag": True}, "leaf_is_ca", "is a CA"),
    ({"uris": [SID, "spiffe://example.com/b"]}, "uri_san_count", "2 URI SANs"),
    ({"uris": []}, "uri_san_count", "0 URI SANs"),
    ({"san": False}, "no_san", "no subjectAltName"),
    ({"uris": ["spiffe://example.com/a/../b"]}, "bad_spiffe_id", "'..' segment"),
    ({"ku": False}, "no_key_usage", "no keyUsage"),
    ({"cert_sign": True}, "leaf_can_sign", "keyCertSign"),
    ({"eku": [ExtendedKeyUsageOID.SERVER_AUTH]}, "eku", "lacks clientAuth"),
    ({"days": (-3, -1)}, "expired", "expired at"),
    ({"days": (1, 3)}, "not_yet_valid", "not valid before"),
    ({"ku_critical": False}, "key_usage_not_critical", "not marked critical"),
    ({"unknown_critical": True}, "unknown_critical_extension", "1.3.6.1.4.1.99999.1"),
    ({"uris": ["spiffe://example.com"]}, "no_path", "has no path"),
])
def test_bad_certificates_rejected_with_reason(ca: LocalCA, kwargs: dict, code: str, text: str) -> None:  # type: ignore[type-arg]
    v = verify_x509_svid([craft(ca, **kwargs)], ca.bundle(), ca.clock.now())
    assert not v.valid
    assert code in v.codes
    assert any(text in r for r in v.reasons), v.reasons


def test_crafted_good_leaf_is_valid(ca: LocalCA) -> None:
    """The crafting helper itself produces a valid SVID, so the negatives above fail for their defect."""
    assert verify_x509_svid([craft(ca)], ca.bundle(), ca.clock.now()).valid


def test_issued_svid_expiry_follows_clock(ca: LocalCA, clock: FrozenClock) -> None:
    svid = ca.issue_x509(SID, timedelta(minutes=5))
    clock.advance(timedelta(minutes=6))
    v = verify_x509_svid(svid.chain, ca.bundle(), clock.now())
    assert v.codes == ["expired"]


def test_other_trust_domains_root(ca: LocalCA, other_ca: LocalCA, clock: FrozenClock) -> None:
    foreign = other_ca.issue_x509("spiffe://other.org/svc")
    v = verify_x509_svid(foreign.chain, ca.bundle(), clock.now())
    assert v.codes == ["no_bundle"] and "other.org" in v.reasons[0]
    both = {"example.com": ca.bundle(), "other.org": other_ca.bundle()}
    assert verify_x509_svid(foreign.chain, both, clock.now()).valid
    v = verify_x509_svid(foreign.chain, both, clock.now(), trust_domain="example.com")
    assert v.codes == ["foreign_trust_domain"]
    # other.org's CA forging an example.com identity: the chain does not reach example.com's root
    forged = craft(other_ca, uris=[SID])
    v = verify_x509_svid([forged], both, clock.now())
    assert v.codes == ["untrusted_chain"] and "example.com" in v.reasons[0]


# -- JWT-SVIDs --------------------------------------------------------------------------------------
def test_jwt_svid_roundtrip(ca: LocalCA, clock: FrozenClock) -> None:
    token = ca.issue_jwt(SID, ["broker"], timedelta(minutes=5))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == ca.meta.jwt_kid
    v = verify_jwt_svid(token, ca.bundle(), "broker", clock.now())
    assert v.valid and v.spiffe_id == SID and v.claims and v.claims["aud"] == ["broker"]


def test_jwt_bad_inputs(ca: LocalCA, other_ca: LocalCA, clock: FrozenClock) -> None:
    now = clock.now()
    exp = int((now + timedelta(minutes=5)).timestamp())
    claims = {"sub": SID, "aud": ["broker"], "exp": exp}
    kid = {"kid": ca.meta.jwt_kid}
    none_tok = jwt.encode(claims, None, algorithm="none", headers=kid)
    hs_tok = jwt.encode(claims, "s" * 32, algorithm="HS256", headers=kid)
    cases = {
        "bad_alg#none": verify_jwt_svid(none_tok, ca.bundle(), "broker", now),
        "bad_alg#HS256": verify_jwt_svid(hs_tok, ca.bundle(), "broker", now),
        "wrong_audience": verify_jwt_svid(ca.issue_jwt(SID, ["other"]), ca.bundle(), "broker", now),
        "unknown_kid": verify_jwt_svid(jwt.encode(claims, ca.keystore.get("jwt"), "ES256", headers={"kid": "nope"}),
                                       ca.bundle(), "broker", now),
        "bad_signature#no-kid": verify_jwt_svid(jwt.encode(claims, other_ca.keystore.get("jwt"), "ES256"),
                                                ca.bundle(), "broker", now),
        "no_aud": verify_jwt_svid(jwt.encode({**claims, "aud": []}, ca.keystore.get("jwt"), "ES256", headers=kid),
                                  ca.bundle(), "broker", now),
        "invalid#no-exp": verify_jwt_svid(jwt.encode({"sub": SID, "aud": ["broker"]}, ca.keystore.get("jwt"), "ES256",
                                                     headers=kid), ca.bundle(), "broker", now),
        "bad_signature": verify_jwt_svid(jwt.encode(claims, other_ca.keystore.get("jwt"), "ES256", headers=kid),
                                         ca.bundle(), "broker", now),
        "no_bundle": verify_jwt_svid(other_ca.issue_jwt("spiffe://other.org/x", ["broker"]), ca.bundle(), "broker",
                                     now),
        "malformed": verify_jwt_svid("not.a.jwt", ca.bundle(), "broker", now),
        "bad_sub": verify_jwt_svid(jwt.encode({**claims, "sub": "spiffe://example.com/a/"}, ca.keystore.get("jwt"),
                                              "ES256", headers=kid), ca.bundle(), "broker", now),
    }
    for code, verdict in cases.items():
        assert not verdict.valid, code
        assert code.split("#")[0] in verdict.codes, (code, verdict.reasons)
        assert verdict.claims is None
    assert "'none'" in cases["bad_alg#none"].reasons[0]
    assert "'HS256'" in cases["bad_alg#HS256"].reasons[0]


def test_jwt_odd_header_and_claim_types_are_rejected_not_crashing(ca: LocalCA, clock: FrozenClock) -> None:
    """A list `alg`, an RSA `alg` against EC keys (unsigned) or a numeric `aud` (signed) used to raise
    TypeError out of the verifier."""
    import base64

    def b64(d: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    now = clock.now()
    exp = int((now + timedelta(minutes=5)).timestamp())
    list_alg = f"{b64({'alg': ['ES256']})}.{b64({'sub': SID, 'aud': 'broker', 'exp': exp})}.AAAA"
    assert verify_jwt_svid(list_alg, ca.bundle(), "broker", now).codes == ["bad_alg"]
    int_aud = jwt.encode({"sub": SID, "aud": 5, "exp": exp}, ca.keystore.get("jwt"), "ES256",
                         headers={"kid": ca.meta.jwt_kid})
    assert verify_jwt_svid(int_aud, ca.bundle(), "broker", now).codes == ["no_aud"]
    nan_exp = jwt.encode({"sub": SID, "aud": "broker", "exp": float("nan")}, ca.keystore.get("jwt"), "ES256")
    assert verify_jwt_svid(nan_exp, ca.bundle(), "broker", now).codes == ["no_exp"]
    for alg in ("RS256", "PS256"):  # PyJWT raises TypeError for an RSA algorithm with the bundle's EC key
        forged = f"{b64({'alg': alg})}.{b64({'sub': SID, 'aud': 'broker', 'exp': exp})}.AAAA"
        assert verify_jwt_svid(forged, ca.bundle(), "broker", now).codes == ["alg_key_mismatch"]


def test_jwt_without_kid_is_checked_against_every_key(ca: LocalCA, clock: FrozenClock) -> None:
    """`kid` is optional in the JWT-SVID standard."""
    exp = int((clock.now() + timedelta(minutes=5)).timestamp())
    token = jwt.encode({"sub": SID, "aud": "broker", "exp": exp}, ca.keystore.get("jwt"), "ES256")
    v = verify_jwt_svid(token, ca.bundle(), "broker", clock.now())
    assert v.valid and v.spiffe_id == SID


def test_jwt_expiry_uses_injected_clock(ca: LocalCA, clock: FrozenClock) -> None:
    token = ca.issue_jwt(SID, ["broker"], timedelta(seconds=30))
    assert verify_jwt_svid(token, ca.bundle(), "broker", clock.now()).valid
    clock.advance(31)
    assert verify_jwt_svid(token, ca.bundle(), "broker", clock.now()).codes == ["expired"]


def test_bundle_files_roundtrip(ca: LocalCA, tmp_path: Path) -> None:
    pem = load_bundle(ca.directory / "bundle.pem")
    js = load_bundle(ca.directory / "bundle.json")
    assert pem.trust_domain == js.trust_domain == "example.com"
    assert js.x509_roots == [ca.root] and list(js.jwt_keys) == [ca.meta.jwt_kid]
    bad = tmp_path / "bad.json"
    bad.write_text('{"nokeys": 1}')
    with pytest.raises(InputError, match="not a SPIFFE bundle"):
        load_bundle(bad)
    for text, msg in (('{"keys": 5}', "not a SPIFFE bundle"), ('{"keys": [], "spiffe_sequence": "x"}',
                                                              "not a SPIFFE bundle"),
                      ('{"keys": [5]}', r"keys\[0\]: not a JSON object"),
                      ('{"keys": [{"use": "jwt-svid", "kid": "k", "kty": "oct", "k": "c2VjcmV0"}]}',
                       "EC or RSA public key")):
        bad.write_text(text)
        with pytest.raises(InputError, match=msg):
            load_bundle(bad, "example.com")
    assert isinstance(load_bundle(ca.directory / "root.pem", "example.com"), TrustBundle)


def test_trust_domain_flag_cannot_relabel_another_domains_roots(ca: LocalCA, other_ca: LocalCA,
                                                                tmp_path: Path) -> None:
    """`--trust-domain example.com` must not turn other.org's roots into example.com's."""
    for name in ("bundle.pem", "bundle.json"):
        assert load_bundle(other_ca.directory / name, "example.com").trust_domain == "other.org"
    forged = craft(other_ca, uris=[SID])  # other.org's CA signing an example.com identity
    v = verify_x509_svid([forged], load_bundle(other_ca.directory / "bundle.pem", "example.com"),
                         other_ca.clock.now(), "example.com")
    assert not v.valid and v.codes == ["no_bundle"]
    mixed = tmp_path / "mixed.pem"
    mixed.write_bytes(ca.bundle().pem() + other_ca.bundle().pem())
    with pytest.raises(InputError, match=r"several trust domains \(example.com, other.org\)"):
        load_bundle(mixed)


# -- CLI --------------------------------------------------------------------------------------------
def test_cli_ca_issue_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir, out = str(tmp_path / "ca"), tmp_path / "svid"
    assert invoke(capsys, "identity", "ca", "init", "--trust-domain", "example.com", "--ca-dir", ca_dir,
                  "--intermediate").code == 0
    res = invoke(capsys, "identity", "issue", "--spiffe-id", SID, "--ttl", "10m", "--out", str(out), "--ca-dir", ca_dir)
    assert res.code == 0, res.err
    assert stat.S_IMODE((out / "svid.key").stat().st_mode) == 0o600
    res = invoke(capsys, "identity", "verify", str(out / "svid.pem"), "--bundle", str(out / "bundle.pem"))
    assert res.code == 0 and json.loads(res.out) == {"valid": True, "spiffe_id": SID, "trust_domain": "example.com",
                                                     "reasons": [], "codes": []}
    res = invoke(capsys, "identity", "verify", str(out / "svid.pem"), "--bundle", str(out / "bundle.pem"),
                 "--trust-domain", "other.org")
    assert res.code == 1 and json.loads(res.out)["valid"] is False
    res = invoke(capsys, "identity", "issue-jwt", "--spiffe-id", SID, "--audience", "broker", "--ca-dir", ca_dir)
    token = res.out.strip()
    bundle_json = str(Path(ca_dir) / "bundle.json")
    assert invoke(capsys, "identity", "verify-jwt", token, "--bundle", bundle_json, "--audience", "broker").code == 0
    res = invoke(capsys, "identity", "verify-jwt", token, "--bundle", bundle_json, "--audience", "db")
    assert res.code == 1 and json.loads(res.out)["codes"] == ["wrong_audience"]
    res = invoke(capsys, "identity", "issue", "--spiffe-id", "spiffe://example.com/a/", "--out", str(out),
                 "--ca-dir", ca_dir)
    assert res.code == 2 and "end with '/'" in res.err
    res = invoke(capsys, "identity", "verify", str(tmp_path / "missing.pem"), "--bundle", str(out / "bundle.pem"))
    assert res.code == 2 and "cannot read" in res.err


def test_write_svid_layout(ca: LocalCA, tmp_path: Path) -> None:
    paths = write_svid(ca.issue_x509(SID), ca.bundle(), tmp_path / "o")
    assert set(paths) == {"cert", "key", "bundle"}
    assert "PRIVATE KEY" not in repr(ca.issue_x509(SID))


def test_ca_certificate_presented_as_svid(ca: LocalCA, ca_inter: LocalCA) -> None:
    v = verify_x509_svid([ca.root], ca.bundle(), ca.clock.now())
    assert not v.valid and {"leaf_is_ca", "leaf_can_sign", "no_digital_signature"} <= set(v.codes)
    assert ca_inter.intermediate is not None
    v = verify_x509_svid([ca_inter.intermediate, ca_inter.root], ca_inter.bundle(), ca_inter.clock.now())
    assert not v.valid and "leaf_is_ca" in v.codes


def test_path_length_and_signing_certificate_rules(ca: LocalCA, clock: FrozenClock) -> None:
    """The root allows no intermediate (pathLen 0); a forged intermediate under it is refused."""
    from intelsec.identity.ca import _ca_cert, _name

    key = new_key()
    now = clock.now()
    inter = _ca_cert(_name("example.com", "rogue"), key, ca.root.subject, ca.keystore.get("root"), "example.com",
                     now - timedelta(hours=1), now + timedelta(days=1), 0)
    leaf_key = new_key()
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "l")]))
            .issuer_name(inter.subject).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(SID)]), False)
            .sign(key, hashes.SHA256()))
    v = verify_x509_svid([leaf, inter], ca.bundle(), now)
    assert v.codes == ["path_length"], v.reasons


def test_cached_ca_links_do_not_vouch_for_look_alikes(ca_inter: LocalCA, clock: FrozenClock) -> None:
    """A proven intermediate->root link is cached; an intermediate with the same names but another key is not."""
    from intelsec.identity.ca import _ca_cert

    svid = ca_inter.issue_x509(SID)
    assert verify_x509_svid(svid.chain, ca_inter.bundle(), clock.now()).valid  # populates the cache
    assert ca_inter.intermediate is not None
    rogue_key = new_key()
    now = clock.now()
    rogue = _ca_cert(ca_inter.intermediate.subject, rogue_key, ca_inter.root.subject, rogue_key, "example.com",
                     now - timedelta(hours=1), now + timedelta(days=1), 0)  # self-signed, root's name as issuer
    leaf = ca_inter.issue_x509(SID, key=None)
    forged_leaf = (x509.CertificateBuilder().subject_name(leaf.leaf.subject).issuer_name(rogue.subject)
                   .public_key(new_key().public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
                   .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(SID)]), False)
                   .sign(rogue_key, hashes.SHA256()))
    v = verify_x509_svid([forged_leaf, rogue], ca_inter.bundle(), now)
    assert not v.valid and v.codes == ["untrusted_chain"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.text(), st.text(), st.text()))
def test_garbage_tokens_never_crash(token: str) -> None:
    bundle = TrustBundle("example.com")
    from datetime import UTC, datetime

    v = verify_jwt_svid(token, bundle, "broker", datetime.now(UTC))
    assert not v.valid and v.reasons
