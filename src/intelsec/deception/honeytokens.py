"""Decoy material: format-valid AWS access keys, API tokens, canary URL tokens, DB passwords.

Every asset also gets an HMAC key: beacons about it are signed with that key, and test touches
carry a token derived from it, so nobody without the key can forge or whitewash a touch.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from typing import Any

AWS_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
AWS_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
BASE62 = string.ascii_letters + string.digits


def _pick(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def aws_access_key() -> tuple[str, str]:
    """(access key id, secret access key) in AWS's formats: AKIA + 16 base32 chars, 40 chars."""
    return "AKIA" + _pick(AWS_ID_ALPHABET, 16), _pick(AWS_SECRET_ALPHABET, 40)


def api_token(prefix: str = "") -> str:
    return prefix + _pick(BASE62, 32)


def token_fingerprint(value: str) -> str:
    """A stable, non-reversible handle for a secret value (what the registry shows)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:32]


def new_material(kind: str, spec: dict[str, Any], canary_base: str) -> tuple[str, dict[str, str]]:
    """(public identifier, secret fields) for a new version of an asset's material."""
    secret: dict[str, str] = {"key": secrets.token_hex(32)}
    if kind == "canary_route":
        public = f"{spec['method']} {spec['route']}"
    elif kind == "canary_url":
        public = secrets.token_urlsafe(18)
        secret["url"] = f"{canary_base.rstrip('/')}/{public}"
    elif kind == "aws_key":
        public, secret["secret_access_key"] = aws_access_key()
        secret["access_key_id"] = public
    elif kind == "api_token":
        secret["token"] = api_token(spec.get("prefix", ""))
        public = token_fingerprint(secret["token"])
    elif kind == "honey_db_user":
        public = spec["role"]
        secret["password"] = secrets.token_urlsafe(24)
    else:
        raise ValueError(f"unknown asset kind {kind!r}")
    return public, secret


def planted_values(secret: dict[str, str]) -> list[str]:
    """The values an attacker could copy (recorded in the honeytoken fingerprint filter)."""
    return [v for k, v in secret.items() if k != "key"]


def make_test_token(key: str, asset_id: str, ts: int) -> str:
    """`<ts>.<hmac>` proving a touch is an authorised test of `asset_id`."""
    mac = hmac.new(key.encode(), f"test:{asset_id}:{ts}".encode(), hashlib.sha256).hexdigest()
    return f"{ts}.{mac}"


def check_test_token(keys: list[str], asset_id: str, token: str | None, now: float, max_age: float = 300) -> bool:
    if not token or "." not in token:
        return False
    ts_text, _, mac = token.partition(".")
    # Attacker-supplied: anything that could raise (a huge number, non-ASCII for compare_digest)
    # would drop the touch, so it is refused before use. The short MAC form (40 hex) fits e.g.
    # PostgreSQL's application_name.
    if not (ts_text.isascii() and ts_text.isdigit() and len(ts_text) <= 12) or len(mac) < 32 or not mac.isascii():
        return False
    ts = int(ts_text)
    if abs(now - ts) > max_age:
        return False
    ok = False
    for key in keys:
        expected = make_test_token(key, asset_id, ts).partition(".")[2][: len(mac)]
        ok |= hmac.compare_digest(expected, mac)
    return ok
