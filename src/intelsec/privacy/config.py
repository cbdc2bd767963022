"""The `privacy:` section of intelsec.yaml (key provider, default key, detokenization limits)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intelsec.config import Workspace
from intelsec.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AwsKmsConfig(_Strict):
    key_id: str = "alias/intelsec-telemetry"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class Pkcs11Config(_Strict):
    module: str = "/usr/lib/softhsm/libsofthsm2.so"
    token_label: str = "intelsec"  # noqa: S105 - a label, not a secret
    pin_env: str = "INTELSEC_PKCS11_PIN"
    key_label: str = "intelsec-wrap"


class KeysConfig(_Strict):
    provider: Literal["local", "aws-kms", "pkcs11"] = "local"
    keyring: str = ".intelsec/keys/keyring.json"
    master_key_file: str = ".intelsec/keys/master.key"
    aws_kms: AwsKmsConfig = Field(default_factory=AwsKmsConfig)
    pkcs11: Pkcs11Config = Field(default_factory=Pkcs11Config)


class DetokenizeConfig(_Strict):
    requests_per_minute: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=100, ge=1, le=10_000)


class PrivacyConfig(_Strict):
    default_key: str = "telemetry"
    keys: KeysConfig = Field(default_factory=KeysConfig)
    detokenize: DetokenizeConfig = Field(default_factory=DetokenizeConfig)
    dlp: dict[str, object] = Field(default_factory=dict)  # owned by the DLP scanner


def privacy_config(ws: Workspace) -> PrivacyConfig:
    try:
        return PrivacyConfig.model_validate(ws.config.privacy)
    except ValueError as exc:
        raise ConfigError(f"{ws.root / 'intelsec.yaml'}: privacy: {exc}") from None
