"""Versioned data keys for tokenization, wrapped by a key provider (local, AWS KMS, PKCS#11)."""

from intelsec.privacy.keys.interface import DataKey, KeyProvider, ProviderError
from intelsec.privacy.keys.keyring import Keyring

__all__ = ["DataKey", "KeyProvider", "Keyring", "ProviderError"]
