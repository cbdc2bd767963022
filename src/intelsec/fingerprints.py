"""Keyed fingerprint filters: remember that a value was emitted without storing the value.

The tokenizer records every token it emits and deception records every honeytoken it plants, so
the DLP scanner can tell "a token" or "a planted decoy" from "a leak". A filter stores
HMAC-SHA256(key, value) bits in a Bloom filter: compact (about 1.2 bytes per value at a 1e-6
false-positive rate), and useless to anyone without the key.

Filters live in `<workspace>/.intelsec/fingerprints/<label>.filter`; the key in `key` beside them
(0600). The label ("tokenized", "honeytoken") is what the scanner reports.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import struct
from collections.abc import Iterable
from pathlib import Path

MAGIC = b"ISFP1"
FINGERPRINT_DIR = "fingerprints"


class KeyedFilter:
    """A Bloom filter over keyed fingerprints (double hashing from one HMAC)."""

    def __init__(self, key: bytes, capacity: int = 1_000_000, fp_rate: float = 1e-6, label: str = "known") -> None:
        if len(key) < 16:
            raise ValueError("fingerprint key must be at least 16 bytes")
        self._key = key
        self.label = label
        self.capacity = max(1, capacity)
        self.nbits = max(64, int(-self.capacity * math.log(fp_rate) / (math.log(2) ** 2)))
        self.nhashes = max(1, round(self.nbits / self.capacity * math.log(2)))
        self.bits = bytearray((self.nbits + 7) // 8)
        self.count = 0

    def __repr__(self) -> str:  # never show the key
        return f"KeyedFilter(label={self.label!r}, capacity={self.capacity}, count={self.count})"

    def _positions(self, value: str) -> list[int]:
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).digest()
        h1, h2 = struct.unpack_from("<QQ", digest)
        h2 |= 1
        return [(h1 + i * h2) % self.nbits for i in range(self.nhashes)]

    def add(self, value: str) -> None:
        for pos in self._positions(value):
            self.bits[pos >> 3] |= 1 << (pos & 7)
        self.count += 1

    def update(self, values: Iterable[str]) -> None:
        for v in values:
            self.add(v)

    def __contains__(self, value: str) -> bool:
        return all(self.bits[pos >> 3] & (1 << (pos & 7)) for pos in self._positions(value))

    def merge(self, other: KeyedFilter) -> None:
        if (other.nbits, other.nhashes) != (self.nbits, self.nhashes):
            raise ValueError("filters have different geometry")
        self.bits = bytearray(a | b for a, b in zip(self.bits, other.bits, strict=True))
        self.count += other.count

    def save(self, path: Path) -> None:
        label = self.label.encode()
        header = MAGIC + struct.pack("<QIIQH", self.nbits, self.nhashes, 0, self.count, len(label)) + label
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(header + bytes(self.bits))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, key: bytes) -> KeyedFilter:
        raw = path.read_bytes()
        if not raw.startswith(MAGIC):
            raise ValueError(f"{path}: not a fingerprint filter")
        nbits, nhashes, _, count, llen = struct.unpack_from("<QIIQH", raw, len(MAGIC))
        off = len(MAGIC) + struct.calcsize("<QIIQH")
        label = raw[off : off + llen].decode()
        f = cls.__new__(cls)
        f._key, f.label, f.nbits, f.nhashes, f.count = key, label, nbits, nhashes, count
        f.capacity = count
        f.bits = bytearray(raw[off + llen :])
        if len(f.bits) != (nbits + 7) // 8:
            raise ValueError(f"{path}: truncated fingerprint filter")
        return f


def fingerprint_dir(state_dir: Path) -> Path:
    d = state_dir / FINGERPRINT_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def fingerprint_key(state_dir: Path) -> bytes:
    """The workspace's fingerprint key, created (0600) on first use."""
    path = fingerprint_dir(state_dir) / "key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def open_filter(state_dir: Path, label: str, capacity: int = 1_000_000) -> KeyedFilter:
    """Load `<label>.filter` or start an empty one (call `save_filter` after adding)."""
    key = fingerprint_key(state_dir)
    path = fingerprint_dir(state_dir) / f"{label}.filter"
    if path.exists():
        return KeyedFilter.load(path, key)
    return KeyedFilter(key, capacity=capacity, label=label)


def save_filter(state_dir: Path, flt: KeyedFilter) -> Path:
    path = fingerprint_dir(state_dir) / f"{flt.label}.filter"
    flt.save(path)
    return path


def load_all(state_dir: Path) -> list[KeyedFilter]:
    """Every filter of a workspace (empty list when none was written yet)."""
    d = state_dir / FINGERPRINT_DIR
    if not (d / "key").exists():
        return []
    key = (d / "key").read_bytes()
    return [KeyedFilter.load(p, key) for p in sorted(d.glob("*.filter"))]


def classify(value: str, filters: Iterable[KeyedFilter]) -> str | None:
    """The label of the first filter that knows `value`, else None."""
    for f in filters:
        if value in f:
            return f.label
    return None
