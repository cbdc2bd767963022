"""A keyring file: key ids with numbered versions, each data key stored only in wrapped form.

The newest version of a key is `active` (used for new tokens); older ones stay `decrypt-only` so
tokens made before a rotation can still be detokenized or re-tokenized.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from intelsec.clock import Clock, SystemClock
from intelsec.errors import InputError, NotFoundError
from intelsec.privacy.keys.interface import DataKey, KeyProvider, ProviderError

KEY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ALGS = ("ff1", "ff3-1")


def _well_formed(data: Any) -> bool:
    """The keyring's shape: {"keys": {id: {"versions": [{version, alg, ..., wrapped: {provider}}]}}}."""
    fields = ("version", "alg", "state", "created_at", "kcv", "wrapped")
    return isinstance(data, dict) and isinstance(data.get("keys"), dict) and all(
        isinstance(e, dict) and isinstance(e.get("versions"), list) and bool(e["versions"]) and all(
            isinstance(v, dict) and all(f in v for f in fields) and isinstance(v["wrapped"], dict)
            and "provider" in v["wrapped"] for v in e["versions"])
        for e in data["keys"].values())


def key_check_value(material: bytes) -> str:
    """A short public fingerprint that tells two copies of a key apart without revealing it."""
    return hmac.new(material, b"intelsec key check value", hashlib.sha256).hexdigest()[:12]


class Keyring:
    def __init__(self, path: Path, provider: KeyProvider, providers: Callable[[str], KeyProvider] | None = None,
                 clock: Clock | None = None) -> None:
        self.path = path
        self.provider = provider
        self._providers = providers or (lambda name: provider)
        self.clock = clock or SystemClock()
        self._cache: dict[tuple[str, int], DataKey] = {}

    def __repr__(self) -> str:
        return f"Keyring(path={str(self.path)!r}, provider={self.provider.name!r})"

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"version": 1, "keys": {}}
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except ValueError as exc:
            raise InputError(f"{self.path}: not a keyring file ({exc.__class__.__name__})") from None
        if not _well_formed(data):
            raise InputError(f"{self.path}: not a keyring file (unexpected structure)")
        return data

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write of the keyring file across processes (two rotations at once
        would otherwise lose a version)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def _new_version(self, key_id: str, version: int, alg: str) -> dict[str, Any]:
        material, wrapped = self.provider.new_data_key(f"{key_id}:v{version}")
        return {"version": version, "alg": alg, "state": "active", "created_at": self.clock.now().isoformat(),
                "kcv": key_check_value(material), "wrapped": wrapped}

    def create(self, key_id: str, alg: str = "ff1") -> dict[str, Any]:
        if not KEY_ID.match(key_id):
            raise InputError(f"key id {key_id!r}: use 1-64 lower-case letters, digits, '.', '_' or '-'")
        if alg not in ALGS:
            raise InputError(f"unknown algorithm {alg!r}; choose ff1 (default) or ff3-1 (deprecated)")
        with self._locked():
            data = self._load()
            if key_id in data["keys"]:
                raise InputError(f"key {key_id!r} already exists in {self.path}; use `keys rotate`")
            data["keys"][key_id] = {"versions": [self._new_version(key_id, 1, alg)]}
            self._save(data)
        return self._public(key_id, data["keys"][key_id]["versions"][0])

    def rotate(self, key_id: str) -> dict[str, Any]:
        with self._locked():
            data = self._load()
            entry = self._entry(data, key_id)
            last = entry["versions"][-1]
            for v in entry["versions"]:
                v["state"] = "decrypt-only"
            new = self._new_version(key_id, last["version"] + 1, last["alg"])
            entry["versions"].append(new)
            self._save(data)
        return self._public(key_id, new)

    def _entry(self, data: dict[str, Any], key_id: str) -> dict[str, Any]:
        try:
            entry: dict[str, Any] = data["keys"][key_id]
            return entry
        except KeyError:
            raise NotFoundError(f"no key {key_id!r} in {self.path}; create it with `intelsec privacy keys create "
                                f"{key_id}`") from None

    @staticmethod
    def _public(key_id: str, v: dict[str, Any]) -> dict[str, Any]:
        w = v["wrapped"]
        out = {"key_id": key_id, "version": v["version"], "alg": v["alg"], "state": v["state"],
               "created_at": v["created_at"], "kcv": v["kcv"], "provider": w["provider"]}
        out.update({k: w[k] for k in ("kms_key_id", "region", "token", "key_label") if k in w})
        return out

    def list(self) -> list[dict[str, Any]]:
        data = self._load()
        return [self._public(k, v) for k, e in sorted(data["keys"].items()) for v in e["versions"]]

    def data_key(self, key_id: str, version: int | None = None) -> DataKey:
        """The active version (or `version`), unwrapped by the provider that wrapped it."""
        data = self._load()
        versions = self._entry(data, key_id)["versions"]
        if version is None:
            v = versions[-1]
        else:
            match = [x for x in versions if x["version"] == version]
            if not match:
                raise NotFoundError(f"key {key_id!r} has no version {version}")
            v = match[0]
        cached = self._cache.get((key_id, v["version"]))
        if cached:
            return cached
        provider = self._providers(v["wrapped"]["provider"])
        material = provider.unwrap(v["wrapped"], f"{key_id}:v{v['version']}")
        if not hmac.compare_digest(key_check_value(material), v["kcv"]):
            raise ProviderError(f"key {key_id} v{v['version']}: unwrapped material does not match its check value")
        dk = DataKey(key_id, v["version"], v["alg"], material)
        self._cache[(key_id, v["version"])] = dk
        return dk
