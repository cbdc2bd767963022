"""The key-provider contract: wrap and unwrap data keys; never expose material in text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from intelsec.errors import ConfigError


class ProviderError(ConfigError):
    """A key provider is unreachable, misconfigured or refused to unwrap (message has no key material)."""


@dataclass(frozen=True)
class DataKey:
    """One version of a data key. `material` is secret: excluded from repr and equality."""

    key_id: str
    version: int
    alg: str
    material: bytes = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.key_id} v{self.version} ({self.alg})"


class KeyProvider(ABC):
    """Wraps data keys under a key that stays in the provider (file, KMS, HSM)."""

    name: str

    @abstractmethod
    def wrap(self, material: bytes, context: str) -> dict[str, Any]:
        """Wrap `material`, bound to `context` (key id + version); returns JSON-safe metadata."""

    @abstractmethod
    def unwrap(self, wrapped: dict[str, Any], context: str) -> bytes:
        """Recover the data key; raises ProviderError when the provider refuses."""

    def new_data_key(self, context: str) -> tuple[bytes, dict[str, Any]]:
        """A fresh 256-bit data key and its wrapped form (KMS generates its own)."""
        import secrets

        material = secrets.token_bytes(32)
        return material, self.wrap(material, context)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
