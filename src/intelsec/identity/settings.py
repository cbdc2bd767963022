"""The `identity:` section of intelsec.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intelsec.config import Workspace
from intelsec.errors import ConfigError
from intelsec.identity.spiffeid import checked_spiffe_id


class Grant(BaseModel):
    """Which workload may receive credentials in which PostgreSQL group role."""

    model_config = ConfigDict(extra="forbid")
    spiffe_id: str
    group_role: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    _sid = field_validator("spiffe_id")(staticmethod(checked_spiffe_id))


class BrokerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audience: str = "intelsec-broker"
    admin_url_env: str = "INTELSEC_BROKER_ADMIN_URL"
    ttl: str = "10m"
    role_prefix: str = Field(default="svc", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    reap_interval: str = "30s"
    max_active_per_workload: int = Field(default=20, ge=1, le=1000)
    grants: list[Grant] = Field(default_factory=list)


class IdentitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier0: list[str] = Field(default_factory=list, description="names of tier-0 services (k8s workloads)")
    broker: BrokerSettings = Field(default_factory=BrokerSettings)


def identity_settings(ws: Workspace) -> IdentitySettings:
    try:
        return IdentitySettings.model_validate(ws.config.identity)
    except ValueError as exc:
        raise ConfigError(f"{ws.root / 'intelsec.yaml'}: identity: {exc}") from None
