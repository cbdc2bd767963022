"""Local provider: data keys wrapped with AES-256-GCM by a master key from the environment or a 0600 file."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intelsec.privacy.keys.interface import KeyProvider, ProviderError

MASTER_KEY_ENV = "INTELSEC_MASTER_KEY"


def _decode_master(text: str, where: str) -> bytes:
    text = text.strip()
    for decode in (bytes.fromhex, base64.b64decode):
        try:
            raw = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == 32:
            return raw
    raise ProviderError(f"{where}: master key must be 32 bytes, hex or base64 encoded")


def load_master_key(path: Path, create: bool = False) -> bytes:
    """INTELSEC_MASTER_KEY if set, else the key file (must be 0600; created when `create`)."""
    env = os.environ.get(MASTER_KEY_ENV)
    if env:
        return _decode_master(env, MASTER_KEY_ENV)
    if not path.exists():
        if not create:
            raise ProviderError(f"no master key: set {MASTER_KEY_ENV} or create {path} with `intelsec privacy keys "
                                "create`")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ProviderError(f"{path}: master key file is readable by others (mode {mode:o}); chmod 600 it")
    return _decode_master(path.read_text(), str(path))


class LocalProvider(KeyProvider):
    name = "local"

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ProviderError("master key must be 32 bytes")
        self._aead = AESGCM(master_key)

    def wrap(self, material: bytes, context: str) -> dict[str, Any]:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, material, context.encode())
        return {"provider": self.name, "nonce": nonce.hex(), "ciphertext": base64.b64encode(ct).decode()}

    def unwrap(self, wrapped: dict[str, Any], context: str) -> bytes:
        try:
            return self._aead.decrypt(bytes.fromhex(wrapped["nonce"]), base64.b64decode(wrapped["ciphertext"]),
                                      context.encode())
        except (InvalidTag, KeyError, ValueError):
            raise ProviderError(f"local provider cannot unwrap {context}: wrong master key or tampered "
                                "keyring") from None
