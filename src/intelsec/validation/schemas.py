"""Workspace file models for continuous validation (`validation/scenarios/*.yaml`) and the
`validation:` section of intelsec.yaml."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intelsec.clock import check_cron

SYNTHETIC_PREFIX = "intelsec-sim-"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")
    repeat: int = Field(default=1, ge=1, le=100)
    params: dict[str, Any] = Field(default_factory=dict)


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert: str = Field(min_length=1, description="Sigma rule name, id or title expected to fire")
    within_seconds: int = Field(default=300, gt=0)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str | None = None
    technique: str | None = Field(default=None, pattern=r"^T\d{4}(\.\d{3})?$")
    schedule: str | None = Field(default=None, description="cron expression, e.g. '0 6 * * 1' (weekly)")
    enabled: bool = True
    environments: list[str] | None = Field(default=None, description="restrict to these environments")
    principal: str | None = Field(default=None, description="synthetic principal the simulation acts as")
    steps: list[Step] = Field(min_length=1)
    expect: list[Expectation] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return check_cron(value)


class ValidationSettings(BaseModel):
    """Guardrails: where simulations may run, how much they may do, and as whom."""

    model_config = ConfigDict(extra="forbid")

    environment: str = Field(default="staging", description="environment this workspace's runner is in")
    allowed_environments: list[str] = Field(default_factory=lambda: ["staging"])
    max_steps_per_run: int = Field(default=20, ge=1, le=1000)
    max_repeats_per_step: int = Field(default=50, ge=1, le=1000)
    max_events_per_run: int = Field(default=500, ge=1, le=100_000)
    timeout_seconds: float = Field(default=120.0, gt=0)
    synthetic_prefix: str = Field(default=SYNTHETIC_PREFIX, min_length=3)
    scenarios_dir: str = "validation/scenarios"
    detections_dir: str = "detections"
    outbox_dir: str = "validation/outbox"
    scheduler: bool = Field(default=False, description="run due scenarios inside `intelsec up`")
    scheduler_interval_seconds: float = Field(default=60.0, ge=1)


WORKSPACE_SCHEMAS: dict[str, Any] = {"validation/scenarios/*.yaml": Scenario}
