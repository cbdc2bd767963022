"""Where CA and JWT signing keys live. A small interface so an HSM or KMS provider can replace files.

The file store writes PKCS#8 PEM with mode 0600 and refuses to read keys other users can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from intelsec.errors import ConfigError, InputError

SigningKey = ec.EllipticCurvePrivateKey


class KeyStore(Protocol):
    """Creates and returns named EC signing keys; never exposes where or how they are kept."""

    def create(self, name: str) -> SigningKey: ...

    def get(self, name: str) -> SigningKey: ...

    def exists(self, name: str) -> bool: ...


def new_key() -> SigningKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: SigningKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a secret file created with `mode` from the start (no window with wider permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load_private_key(data: bytes, where: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InputError(f"{where}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{where}: expected an EC private key")
    return key


class FileKeyStore:
    """PEM files under a directory, one per key name, mode 0600."""

    def __init__(self, directory: Path, mode: int = 0o600) -> None:
        self.directory = directory
        self.mode = mode

    def _path(self, name: str) -> Path:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise InputError(f"invalid key name {name!r}")
        return self.directory / f"{name}.key.pem"

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def create(self, name: str) -> SigningKey:
        path = self._path(name)
        if path.exists():
            raise ConfigError(f"{path}: key already exists; refusing to overwrite")
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        key = new_key()
        write_private(path, key_pem(key), self.mode)
        return key

    def get(self, name: str) -> SigningKey:
        path = self._path(name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ConfigError(f"{path}: key not found (run `intelsec identity ca init`)") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path}: permissions {oct(st.st_mode & 0o777)} are too open; run chmod 600")
        return load_private_key(path.read_bytes(), str(path))

    def __repr__(self) -> str:
        return f"FileKeyStore({self.directory})"
