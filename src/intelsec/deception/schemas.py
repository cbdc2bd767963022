"""Workspace file models for deception (`deception/canary-routes.yaml`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CanaryRoute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1)
    route: str = Field(pattern=r"^/")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    tag: str = "canary"
    response: int = Field(default=404, ge=100, le=599)


WORKSPACE_SCHEMAS: dict[str, Any] = {"deception/canary-routes.yaml": list[CanaryRoute]}
