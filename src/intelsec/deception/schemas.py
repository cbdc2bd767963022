"""Workspace file models for deception (`deception/canary-routes.yaml`, `deception/assets.yaml`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from intelsec.clock import check_cron, parse_duration

ASSET_ID = r"^[a-z0-9][a-z0-9._-]{1,63}$"
ROLE_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
AssetKind = Literal["canary_route", "canary_url", "honey_db_user", "aws_key", "api_token"]
Severity = Literal["info", "low", "medium", "high", "critical"]


def _duration(value: str) -> str:
    parse_duration(value)
    return value


class Rotation(BaseModel):
    """Rotate on a fixed interval (`every: 30d`) or a cron schedule; old material stays watched for `grace`."""

    model_config = ConfigDict(extra="forbid")

    every: str | None = None
    cron: str | None = None
    grace: str = "7d"

    _check_every = field_validator("every")(lambda cls, v: v if v is None else _duration(v))
    _check_grace = field_validator("grace")(lambda cls, v: _duration(v))

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return check_cron(value)

    @model_validator(mode="after")
    def _one_schedule(self) -> Rotation:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of `every` (e.g. 30d) or `cron` (e.g. '0 3 * * 1')")
        return self


class AssetOptions(BaseModel):
    """Fields every asset may set; unset ones fall back to `defaults` in assets.yaml."""

    model_config = ConfigDict(extra="forbid")

    owner: str | None = None
    placement: str | None = None
    severity: Severity | None = None
    fp_budget_per_week: int | None = Field(default=None, ge=0)
    rotation: Rotation | None = None


class CanaryRoute(AssetOptions):
    """The plan's canary route (service, route, method, tag, response) plus optional asset options."""

    id: str | None = Field(default=None, pattern=ASSET_ID)
    service: str = Field(min_length=1)
    route: str = Field(pattern=r"^/")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    tag: str = "canary"
    response: int = Field(default=404, ge=100, le=599)

    def asset_id(self) -> str:
        if self.id:
            return self.id
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.service}-{self.route}".lower()).strip("-")
        return slug[:64].rstrip("-")


class Asset(AssetOptions):
    """A non-route asset in `deception/assets.yaml`."""

    id: str = Field(pattern=ASSET_ID)
    kind: Literal["canary_url", "honey_db_user", "aws_key", "api_token"]
    role: str | None = Field(default=None, pattern=ROLE_NAME, description="honey_db_user: the role name")
    prefix: str = Field(default="", max_length=16, pattern=r"^[A-Za-z0-9_-]*$", description="api_token prefix")

    @model_validator(mode="after")
    def _role(self) -> Asset:
        if self.kind == "honey_db_user" and not self.role:
            raise ValueError("a honey_db_user needs `role` (the PostgreSQL role name)")
        if self.kind != "honey_db_user" and self.role:
            raise ValueError("`role` only applies to kind honey_db_user")
        return self


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = "secops"
    severity: Severity = "high"
    fp_budget_per_week: int = Field(default=1, ge=0)
    rotation: Rotation | None = None
    test_max_age: str = "7d"

    _check = field_validator("test_max_age")(lambda cls, v: _duration(v))


class AssetsFile(BaseModel):
    """`deception/assets.yaml`: defaults, where beacons go, and the non-route assets."""

    model_config = ConfigDict(extra="forbid")

    control_plane_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://")
    canary_url_base: str | None = Field(default=None, pattern=r"^https?://",
                                        description="public base of canary URLs (default: the beacon endpoint)")
    defaults: Defaults = Field(default_factory=Defaults)
    assets: list[Asset] = Field(default_factory=list)


class ServiceSettings(BaseModel):
    """The `deception:` section of intelsec.yaml: what the control plane watches by itself."""

    model_config = ConfigDict(extra="forbid")

    watch_pg_logs: list[str] = Field(default_factory=list, description="PostgreSQL jsonlog/csvlog files to tail")
    poll_seconds: float = Field(default=1.0, gt=0, le=60)


WORKSPACE_SCHEMAS: dict[str, Any] = {
    "deception/canary-routes.yaml": list[CanaryRoute],
    "deception/assets.yaml": AssetsFile,
}
