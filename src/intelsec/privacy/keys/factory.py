"""Build the configured provider and keyring for a workspace (or a bare keyring path)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from intelsec.config import Workspace
from intelsec.privacy.config import KeysConfig, PrivacyConfig, privacy_config
from intelsec.privacy.keys.interface import KeyProvider, ProviderError
from intelsec.privacy.keys.keyring import Keyring


def build_provider(name: str, cfg: KeysConfig, root: Path, create: bool = False) -> KeyProvider:
    if name == "local":
        from intelsec.privacy.keys.local import LocalProvider, load_master_key

        path = Path(cfg.master_key_file)
        return LocalProvider(load_master_key(path if path.is_absolute() else root / path, create=create))
    if name == "aws-kms":
        from intelsec.privacy.keys.awskms import AwsKmsProvider

        a = cfg.aws_kms
        return AwsKmsProvider(a.key_id, a.region, a.endpoint_url, a.timeout_seconds)
    if name == "pkcs11":
        from intelsec.privacy.keys.pkcs11 import Pkcs11Provider

        p = cfg.pkcs11
        return Pkcs11Provider(p.module, p.token_label, p.pin_env, p.key_label, create=create)
    raise ProviderError(f"unknown key provider {name!r}; choose local, aws-kms or pkcs11")


def keyring_for(cfg: PrivacyConfig, root: Path, create: bool = False, keyring_path: Path | None = None) -> Keyring:
    kc = cfg.keys
    path = keyring_path or Path(kc.keyring)
    path = path if path.is_absolute() else root / path

    @cache
    def providers(name: str) -> KeyProvider:
        return build_provider(name, kc, root, create=create)

    return Keyring(path, providers(kc.provider), providers)


def workspace_keyring(ws: Workspace, create: bool = False) -> Keyring:
    return keyring_for(privacy_config(ws), ws.root, create=create)
