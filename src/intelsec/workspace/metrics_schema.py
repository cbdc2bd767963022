"""Model for the workspace's Prometheus alerting rules (`metrics/alerts/*.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alert: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    expr: str = Field(min_length=1)
    for_: str | None = Field(default=None, alias="for", pattern=r"^\d+[smhdwy]$")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class RuleGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    interval: str | None = None
    rules: list[AlertRule] = Field(min_length=1)


class PrometheusRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[RuleGroup] = Field(min_length=1)


WORKSPACE_SCHEMAS: dict[str, Any] = {"metrics/alerts/*.yaml": PrometheusRules}
