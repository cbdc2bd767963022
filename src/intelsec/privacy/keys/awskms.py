"""AWS KMS provider: envelope encryption (GenerateDataKey / Decrypt) bound to an encryption context."""

from __future__ import annotations

import base64
from typing import Any

from intelsec.privacy.keys.interface import KeyProvider, ProviderError


class AwsKmsProvider(KeyProvider):
    name = "aws-kms"

    def __init__(self, key_id: str, region: str = "us-east-1", endpoint_url: str | None = None,
                 timeout: float = 10.0, client: Any = None) -> None:
        self.key_id = key_id
        self.region = region
        self.endpoint_url = endpoint_url
        if client is None:
            import boto3
            from botocore.config import Config

            cfg = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2})
            client = boto3.client("kms", region_name=region, endpoint_url=endpoint_url, config=cfg)
        self._kms = client

    def __repr__(self) -> str:
        return f"AwsKmsProvider(key_id={self.key_id!r}, region={self.region!r})"

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result: dict[str, Any] = getattr(self._kms, op)(**kwargs)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise ProviderError(f"AWS KMS {op} on {self.key_id} failed: {code}") from None
        except BotoCoreError as exc:
            raise ProviderError(f"AWS KMS {op} on {self.key_id} failed: {type(exc).__name__}") from None

    def new_data_key(self, context: str) -> tuple[bytes, dict[str, Any]]:
        out = self._call("generate_data_key", KeyId=self.key_id, KeySpec="AES_256",
                         EncryptionContext={"intelsec:key": context})
        return out["Plaintext"], self._meta(out["CiphertextBlob"])

    def wrap(self, material: bytes, context: str) -> dict[str, Any]:
        out = self._call("encrypt", KeyId=self.key_id, Plaintext=material, EncryptionContext={"intelsec:key": context})
        return self._meta(out["CiphertextBlob"])

    def _meta(self, blob: bytes) -> dict[str, Any]:
        return {"provider": self.name, "kms_key_id": self.key_id, "region": self.region,
                "ciphertext": base64.b64encode(blob).decode()}

    def unwrap(self, wrapped: dict[str, Any], context: str) -> bytes:
        out = self._call("decrypt", CiphertextBlob=base64.b64decode(wrapped["ciphertext"]), KeyId=self.key_id,
                         EncryptionContext={"intelsec:key": context})
        material: bytes = out["Plaintext"]
        return material
