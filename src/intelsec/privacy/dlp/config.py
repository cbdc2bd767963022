"""User DLP patterns from the workspace's `dlp/policies.yaml`."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DlpPattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    regex: str
    luhn: bool = False
    severity: Literal["low", "medium", "high", "critical"] = "medium"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class DlpPolicies(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patterns: list[DlpPattern] = Field(default_factory=list)
