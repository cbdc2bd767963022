"""Asset material is sealed (AES-256-GCM) before it reaches the store.

A database dump then reveals neither the beacon keys nor which credentials are decoys. The key is
`INTELSEC_DECEPTION_KEY` (32 bytes, base64) when set, which every host sharing one PostgreSQL
store must use, else `<workspace>/.intelsec/deception/material.key` (created 0600 on first use).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intelsec.errors import ConfigError

KEY_ENV = "INTELSEC_DECEPTION_KEY"
PREFIX = "v1."


def material_key(state_dir: Path) -> bytes:
    raw = os.environ.get(KEY_ENV)
    if raw:
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ConfigError(f"{KEY_ENV} must be 32 bytes, base64-encoded")
        return key
    path = state_dir / "deception" / "material.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ConfigError(f"{path}: not a 32-byte key")
    return key


def seal(key: bytes, secret: dict[str, str], context: str) -> dict[str, str]:
    nonce = secrets.token_bytes(12)
    ct = AESGCM(key).encrypt(nonce, json.dumps(secret).encode(), context.encode())
    return {"sealed": PREFIX + base64.b64encode(nonce + ct).decode()}


def unseal(key: bytes, stored: dict[str, str], context: str) -> dict[str, str]:
    blob = stored.get("sealed")
    if blob is None:
        return dict(stored)
    try:
        raw = base64.b64decode(blob.removeprefix(PREFIX))
        data: dict[str, str] = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()))
        return data
    except (InvalidTag, ValueError, binascii.Error):
        raise ConfigError(f"deception material of {context} cannot be unsealed: wrong {KEY_ENV} or "
                          "material.key for this store") from None
