"""Workspace file models for egress (`egress/allowlist.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Allowlist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespaces: dict[str, list[str]] = Field(default_factory=dict)


WORKSPACE_SCHEMAS: dict[str, Any] = {"egress/allowlist.yaml": Allowlist}
