"""PKCS#11 provider: data keys wrapped with AES-GCM by a non-extractable AES key inside an HSM."""

from __future__ import annotations

import base64
import os
import secrets
from typing import Any

from intelsec.privacy.keys.interface import KeyProvider, ProviderError

_SESSIONS: dict[tuple[str, str], Any] = {}


def _session(module: str, token_label: str, pin: str) -> Any:
    """One logged-in session per token and process (PKCS#11 login state is per application)."""
    import pkcs11

    key = (module, token_label)
    if key not in _SESSIONS:
        token = pkcs11.lib(module).get_token(token_label=token_label)
        try:
            _SESSIONS[key] = token.open(user_pin=pin, rw=True)
        except pkcs11.UserAlreadyLoggedIn:
            _SESSIONS[key] = token.open(rw=True)
    return _SESSIONS[key]


class Pkcs11Provider(KeyProvider):
    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin_env: str, key_label: str, create: bool = False) -> None:
        import pkcs11

        self.module, self.token_label, self.key_label = module, token_label, key_label
        pin = os.environ.get(pin_env)
        if not pin:
            raise ProviderError(f"PKCS#11: environment variable {pin_env} (the token PIN) is not set")
        try:
            self._session = _session(module, token_label, pin)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            raise ProviderError(f"PKCS#11: cannot open token {token_label!r} via {module}: "
                                f"{type(exc).__name__}") from None
        self._key = self._find_or_create(create)

    def __repr__(self) -> str:
        return f"Pkcs11Provider(token={self.token_label!r}, key={self.key_label!r})"

    def _find_or_create(self, create: bool) -> Any:
        import pkcs11
        from pkcs11 import Attribute, KeyType, ObjectClass

        try:
            return self._session.get_key(label=self.key_label, key_type=KeyType.AES,
                                         object_class=ObjectClass.SECRET_KEY)
        except pkcs11.NoSuchKey:
            if not create:
                raise ProviderError(f"PKCS#11: no AES key labelled {self.key_label!r} on token {self.token_label!r}"
                                    ) from None
        return self._session.generate_key(KeyType.AES, 256, label=self.key_label, store=True, template={
            Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True})

    def wrap(self, material: bytes, context: str) -> dict[str, Any]:
        from pkcs11 import GCMParams, Mechanism

        nonce = secrets.token_bytes(12)
        ct = self._key.encrypt(material, mechanism=Mechanism.AES_GCM,
                               mechanism_param=GCMParams(nonce, context.encode(), 128))
        return {"provider": self.name, "token": self.token_label, "key_label": self.key_label,
                "nonce": nonce.hex(), "ciphertext": base64.b64encode(ct).decode()}

    def unwrap(self, wrapped: dict[str, Any], context: str) -> bytes:
        import pkcs11
        from pkcs11 import GCMParams, Mechanism

        try:
            out: bytes = self._key.decrypt(base64.b64decode(wrapped["ciphertext"]), mechanism=Mechanism.AES_GCM,
                                           mechanism_param=GCMParams(bytes.fromhex(wrapped["nonce"]),
                                                                     context.encode(), 128))
            return out
        except (pkcs11.PKCS11Error, KeyError, ValueError):
            raise ProviderError(f"PKCS#11: the HSM refused to unwrap {context}") from None
