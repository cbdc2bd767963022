"""The `sbom:` section of intelsec.yaml (all optional)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intelsec.errors import ConfigError
from intelsec.sbom.feeds import EPSS_URL, KEV_URL


class SbomSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str | None = Field(default=None, description="name the burn-down is kept under (default: workspace name)")
    epss: str | None = Field(default=None, description="EPSS CSV file (default: the feeds cache)")
    kev: str | None = Field(default=None, description="KEV catalog file (default: the feeds cache)")
    epss_url: str = EPSS_URL
    kev_url: str = KEV_URL
    allow_major: bool = True
    group: Literal["package", "all"] = "package"
    labels: list[str] = Field(default_factory=lambda: ["security", "intelsec-sbom"])


def load_settings(section: dict[str, object]) -> SbomSettings:
    try:
        return SbomSettings.model_validate(section or {})
    except Exception as exc:  # pydantic ValidationError -> one readable line
        raise ConfigError(f"intelsec.yaml: sbom: {exc}".replace("\n", "; ")) from None
