"""Beacon wire format, HMAC signing/verification and per-source rate limiting.

A beacon is a JSON body signed with the asset's key: header `X-Intelsec-Signature: sha256=<hex>`
over the raw body. The body carries `ts` (unix seconds) so captured beacons go stale after
`MAX_SKEW` seconds; within that window a signature is accepted once (`ReplayGuard`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

SIGNATURE_HEADER = "X-Intelsec-Signature"
TEST_HEADER = "X-Intelsec-Test"
MAX_SKEW = 300.0


def _clip(n: int) -> BeforeValidator:
    return BeforeValidator(lambda v: v[:n] if isinstance(v, str) else v)


class BeaconIn(BaseModel):
    """What a touch reports. The request's own fields (address, headers, path) are the attacker's to
    choose, so they are clipped, never a reason to refuse the beacon and lose the touch."""

    asset: str = Field(min_length=1, max_length=64)
    ts: int
    nonce: str = Field(default="", max_length=64)
    channel: str = Field(default="beacon", max_length=32)
    source_ip: Annotated[str | None, _clip(64)] = None
    user_agent: Annotated[str | None, _clip(1024)] = None
    path: Annotated[str | None, _clip(2048)] = None
    method: Annotated[str | None, _clip(16)] = None
    identity: Annotated[str | None, _clip(512)] = None
    test_token: Annotated[str | None, _clip(128)] = None


def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def encode(key: str, beacon: dict[str, object]) -> tuple[bytes, str]:
    """(body, signature header value) for a beacon dict; fills `ts` and `nonce` when missing."""
    doc = {"ts": int(time.time()), "nonce": secrets.token_hex(8), **beacon}
    body = json.dumps(doc, separators=(",", ":")).encode()
    return body, sign(key, body)


class BadBeacon(Exception):
    """Rejected beacon; `reason` is a metric label (never secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(body: bytes) -> BeaconIn:
    try:
        return BeaconIn.model_validate_json(body)
    except ValidationError:
        raise BadBeacon("malformed") from None


def verify(keys: list[str], body: bytes, signature: str | None, beacon: BeaconIn, now: float) -> None:
    """Raise BadBeacon unless one of `keys` signed `body` and the beacon is fresh."""
    if not keys:
        raise BadBeacon("unknown_asset")
    if not signature or not signature.isascii() or not signature.startswith("sha256="):
        raise BadBeacon("bad_signature")
    ok = False
    for key in keys:  # current and grace-period keys; compare all in constant time
        ok |= hmac.compare_digest(sign(key, body), signature)
    if not ok:
        raise BadBeacon("bad_signature")
    if abs(now - beacon.ts) > MAX_SKEW:
        raise BadBeacon("stale")


@dataclass
class _Bucket:
    tokens: float
    last: float


class RateLimiter:
    """Token bucket per (asset, source): `burst` touches at once, then `per_minute`."""

    def __init__(self, per_minute: float = 6, burst: int = 3, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, asset: str, source: str, now: float) -> bool:
        with self._lock:
            key = (asset, source)
            b = self._buckets.pop(key, None) or _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + max(0.0, now - b.last) * self.rate)
            b.last = now
            allowed = b.tokens >= 1.0
            if allowed:
                b.tokens -= 1.0
            self._buckets[key] = b
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return allowed


class ReplayGuard:
    """Signatures of accepted beacons, kept while their `ts` could still pass the skew check, so a
    captured beacon cannot be replayed to inflate counts or re-open an alert."""

    def __init__(self, window: float = 2 * MAX_SKEW, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float) -> bool:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self.window:
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
            return True
