"""Key providers and the keyring: local (env / 0600 file), AWS KMS against moto, PKCS#11 against SoftHSM2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from intelsec.errors import InputError, NotFoundError
from intelsec.privacy.config import KeysConfig, PrivacyConfig
from intelsec.privacy.keys import Keyring, ProviderError
from intelsec.privacy.keys.factory import keyring_for
from intelsec.privacy.keys.local import LocalProvider, load_master_key


def check_keyring(ring: Keyring) -> None:
    """Create, rotate, unwrap; material never shows up in text forms or the keyring file."""
    pub = ring.create("telemetry")
    assert pub["version"] == 1 and pub["state"] == "active" and pub["alg"] == "ff1"
    k1 = ring.data_key("telemetry")
    assert len(k1.material) == 32
    ring.rotate("telemetry")
    k2 = ring.data_key("telemetry")
    assert k2.version == 2 and k2.material != k1.material
    assert ring.data_key("telemetry", 1).material == k1.material
    assert [(r["version"], r["state"]) for r in ring.list()] == [(1, "decrypt-only"), (2, "active")]
    text = ring.path.read_text() + repr(ring) + repr(k1) + str(k1) + json.dumps(ring.list())
    for k in (k1, k2):
        assert k.material.hex() not in text and k.material.hex().upper() not in text
    # a fresh keyring object (no cache) unwraps the same material through the provider
    again = Keyring(ring.path, ring.provider, ring._providers)
    assert again.data_key("telemetry", 2).material == k2.material


def test_local_provider_with_env_master_key(tmp_path: Path, master_key: str) -> None:
    ring = keyring_for(PrivacyConfig(), tmp_path, create=True)
    check_keyring(ring)
    assert os.stat(ring.path).st_mode & 0o777 == 0o600


def test_local_provider_key_file_is_created_0600_and_loose_modes_refused(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTELSEC_MASTER_KEY", raising=False)
    path = tmp_path / "master.key"
    with pytest.raises(ProviderError, match="no master key"):
        load_master_key(path)
    key = load_master_key(path, create=True)
    assert os.stat(path).st_mode & 0o777 == 0o600 and load_master_key(path) == key
    path.chmod(0o644)
    with pytest.raises(ProviderError, match="readable by others") as err:
        load_master_key(path)
    assert key.hex() not in str(err.value)


def test_wrong_master_key_and_tampering_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = Keyring(tmp_path / "ring.json", LocalProvider(b"\x01" * 32))
    ring.create("k")
    with pytest.raises(ProviderError, match="wrong master key") as err:
        Keyring(ring.path, LocalProvider(b"\x02" * 32)).data_key("k")
    assert "\x01" not in str(err.value)
    data = json.loads(ring.path.read_text())
    data["keys"]["k"]["versions"][0]["kcv"] = "000000000000"
    ring.path.write_text(json.dumps(data))
    with pytest.raises(ProviderError, match="check value"):
        Keyring(ring.path, LocalProvider(b"\x01" * 32)).data_key("k")


def test_bad_master_key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTELSEC_MASTER_KEY", "abcd")
    with pytest.raises(ProviderError, match="32 bytes"):
        load_master_key(tmp_path / "x")


def test_keyring_errors(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "ring.json", LocalProvider(b"\x01" * 32))
    with pytest.raises(InputError, match="key id"):
        ring.create("Bad Id")
    with pytest.raises(InputError, match="unknown algorithm"):
        ring.create("k", alg="ff3")
    ring.create("k", alg="ff3-1")
    with pytest.raises(InputError, match="already exists"):
        ring.create("k")
    with pytest.raises(NotFoundError):
        ring.rotate("nope")
    with pytest.raises(NotFoundError, match="no version 9"):
        ring.data_key("k", 9)
    for bad in ("[]", '{"keys": {"k": {}}}', '{"keys": {"k": {"versions": [{"version": 1}]}}}'):
        ring.path.write_text(bad)
        with pytest.raises(InputError, match="not a keyring file"):
            ring.list()


def test_aws_kms_provider_against_moto(tmp_path: Path, moto_kms: str, kms_key: str) -> None:
    """Envelope encryption through boto3 against a real moto_server process (AWS KMS emulator)."""
    cfg = PrivacyConfig(keys=KeysConfig(provider="aws-kms", aws_kms={"key_id": kms_key, "endpoint_url": moto_kms}))
    ring = keyring_for(cfg, tmp_path)
    check_keyring(ring)
    assert ring.list()[0]["provider"] == "aws-kms" and ring.list()[0]["kms_key_id"] == kms_key
    # the encryption context binds a wrapped key to its id/version: swapping versions is refused
    data = json.loads(ring.path.read_text())
    v = data["keys"]["telemetry"]["versions"]
    v[0]["wrapped"], v[1]["wrapped"] = v[1]["wrapped"], v[0]["wrapped"]
    ring.path.write_text(json.dumps(data))
    with pytest.raises(ProviderError, match="AWS KMS decrypt"):
        keyring_for(cfg, tmp_path).data_key("telemetry", 1)


def test_aws_kms_unknown_key_is_a_clear_error(tmp_path: Path, moto_kms: str, kms_key: str) -> None:
    cfg = PrivacyConfig(keys=KeysConfig(provider="aws-kms", aws_kms={"key_id": "alias/missing",
                                                                     "endpoint_url": moto_kms}))
    with pytest.raises(ProviderError, match="generate_data_key on alias/missing failed: NotFoundException"):
        keyring_for(cfg, tmp_path).create("telemetry")


def test_pkcs11_provider_against_softhsm(tmp_path: Path, softhsm: str) -> None:
    """Data keys wrapped by a non-extractable AES key generated inside a real SoftHSM2 token."""
    cfg = PrivacyConfig(keys=KeysConfig(provider="pkcs11", pkcs11={"token_label": softhsm,
                                                                   "key_label": f"wrap-{tmp_path.name}"}))
    with pytest.raises(ProviderError, match="no AES key labelled"):
        keyring_for(cfg, tmp_path)
    ring = keyring_for(cfg, tmp_path, create=True)
    check_keyring(ring)
    assert ring.list()[0]["provider"] == "pkcs11"
    other = PrivacyConfig(keys=KeysConfig(provider="pkcs11", pkcs11={"token_label": softhsm,
                                                                     "key_label": f"other-{tmp_path.name}"}))
    stranger = keyring_for(other, tmp_path, create=True)
    with pytest.raises(ProviderError, match="HSM refused"):
        Keyring(ring.path, stranger.provider).data_key("telemetry", 1)


def test_pkcs11_bad_pin_or_token(tmp_path: Path, softhsm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = PrivacyConfig(keys=KeysConfig(provider="pkcs11", pkcs11={"token_label": "no-such-token"}))
    with pytest.raises(ProviderError, match="cannot open token"):
        keyring_for(cfg, tmp_path)
    monkeypatch.delenv("INTELSEC_PKCS11_PIN")
    with pytest.raises(ProviderError, match="INTELSEC_PKCS11_PIN"):
        keyring_for(cfg, tmp_path)


def test_keys_cli_create_rotate_list_export(workspace_dir: Path, master_key: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clirunner import invoke

    ws = str(workspace_dir)
    assert invoke(capsys, "privacy", "keys", "create", "-w", ws, "exports", "--alg", "ff3-1").code == 0
    r = invoke(capsys, "privacy", "keys", "create", "-w", ws, "exports")
    assert r.code == 2 and "already exists" in r.err
    assert invoke(capsys, "privacy", "keys", "rotate", "-w", ws, "exports").code == 0
    r = invoke(capsys, "privacy", "keys", "list", "-w", ws, "--format", "json")
    listed = json.loads(r.out)
    assert [(k["key_id"], k["version"], k["alg"], k["state"]) for k in listed] == [
        ("exports", 1, "ff3-1", "decrypt-only"), ("exports", 2, "ff3-1", "active")]
    out = tmp_path / "public.json"
    assert invoke(capsys, "privacy", "keys", "export-public-metadata", "-w", ws, "-o", str(out)).code == 0
    exported = out.read_text()
    ring = json.loads((workspace_dir / ".intelsec/keys/keyring.json").read_text())
    for v in ring["keys"]["exports"]["versions"]:
        assert v["wrapped"]["ciphertext"] not in exported and v["kcv"] in exported
    assert "ciphertext" not in exported and master_key not in exported
    r = invoke(capsys, "privacy", "keys", "rotate", "-w", ws, "nope")
    assert r.code == 1 and "no key 'nope'" in r.err


def test_concurrent_rotations_lose_no_version(tmp_path: Path) -> None:
    """Rotations from separate processes (here: threads with their own file locks) are serialised."""
    from concurrent.futures import ThreadPoolExecutor

    ring = Keyring(tmp_path / "ring.json", LocalProvider(b"\x01" * 32))
    ring.create("k")
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: Keyring(ring.path, LocalProvider(b"\x01" * 32)).rotate("k"), range(12)))
    versions = [v["version"] for v in json.loads(ring.path.read_text())["keys"]["k"]["versions"]]
    assert versions == list(range(1, 14))
