"""Strict SPIFFE ID parsing, following the SPIFFE-ID standard to the letter.

py-spiffe accepts a few things the standard forbids (e.g. over-long IDs); every ID that enters
intelsec goes through `parse_spiffe_id`, so the rules live in one place.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

SCHEME = "spiffe://"
MAX_ID_BYTES = 2048
MAX_TRUST_DOMAIN_BYTES = 255
TD_CHARS = frozenset(string.ascii_lowercase + string.digits + ".-_")
PATH_CHARS = frozenset(string.ascii_letters + string.digits + ".-_")


class InvalidSpiffeId(ValueError):
    """The text is not a SPIFFE ID; the message says which rule it breaks."""


@dataclass(frozen=True, slots=True)
class SpiffeId:
    trust_domain: str
    path: str  # "" or "/seg/seg"

    def __str__(self) -> str:
        return f"{SCHEME}{self.trust_domain}{self.path}"

    @property
    def segments(self) -> list[str]:
        return self.path.split("/")[1:] if self.path else []


def validate_trust_domain(td: str) -> str:
    """Check a bare trust domain name (no scheme) and return it."""
    if not td:
        raise InvalidSpiffeId("trust domain is empty")
    if len(td.encode()) > MAX_TRUST_DOMAIN_BYTES:
        raise InvalidSpiffeId(f"trust domain is longer than {MAX_TRUST_DOMAIN_BYTES} bytes")
    for ch in td:
        if ch in TD_CHARS:
            continue
        if ch == ":":
            raise InvalidSpiffeId("trust domain must not contain a port")
        if ch == "@":
            raise InvalidSpiffeId("trust domain must not contain userinfo")
        if ch in string.ascii_uppercase:
            raise InvalidSpiffeId("trust domain must be lowercase")
        raise InvalidSpiffeId(f"trust domain contains a forbidden character {ch!r}")
    return td


def _validate_path(path: str) -> None:
    if not path:
        return
    if path.endswith("/"):
        raise InvalidSpiffeId("path must not end with '/'")
    for seg in path.split("/")[1:]:
        if seg == "":
            raise InvalidSpiffeId("path contains an empty segment ('//')")
        if seg in (".", ".."):
            raise InvalidSpiffeId(f"path contains a '{seg}' segment")
        for ch in seg:
            if ch not in PATH_CHARS:
                if ch == "%":
                    raise InvalidSpiffeId("path must not contain percent-encoded characters")
                raise InvalidSpiffeId(f"path contains a forbidden character {ch!r}")


def parse_spiffe_id(text: str) -> SpiffeId:
    """Parse `spiffe://trust-domain/path` or raise InvalidSpiffeId naming the broken rule."""
    if not isinstance(text, str) or not text:
        raise InvalidSpiffeId("SPIFFE ID is empty")
    if len(text.encode()) > MAX_ID_BYTES:
        raise InvalidSpiffeId(f"SPIFFE ID is longer than {MAX_ID_BYTES} bytes")
    if not text.startswith(SCHEME):
        if text.lower().startswith(SCHEME):
            raise InvalidSpiffeId("scheme must be lowercase 'spiffe'")
        raise InvalidSpiffeId("scheme must be 'spiffe://'")
    rest = text[len(SCHEME):]
    if "?" in rest:
        raise InvalidSpiffeId("SPIFFE ID must not contain a query")
    if "#" in rest:
        raise InvalidSpiffeId("SPIFFE ID must not contain a fragment")
    slash = rest.find("/")
    td, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    validate_trust_domain(td)
    _validate_path(path)
    return SpiffeId(td, path)


def checked_spiffe_id(value: str) -> str:
    """For pydantic field validators: the ID unchanged, or ValueError naming the broken rule."""
    try:
        parse_spiffe_id(value)
    except InvalidSpiffeId as exc:
        raise ValueError(f"not a valid SPIFFE ID: {exc}") from None
    return value
