"""Workspace file models for continuous validation (`validation/scenarios/*.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")
    repeat: int = Field(default=1, ge=1, le=100)
    params: dict[str, Any] = Field(default_factory=dict)


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert: str = Field(min_length=1)
    within_seconds: int = Field(default=300, gt=0)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    technique: str | None = Field(default=None, pattern=r"^T\d{4}(\.\d{3})?$")
    schedule: str | None = None
    steps: list[Step] = Field(min_length=1)
    expect: list[Expectation] = Field(default_factory=list)


WORKSPACE_SCHEMAS: dict[str, Any] = {"validation/scenarios/*.yaml": Scenario}
