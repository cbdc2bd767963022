"""Workspace file models for identity (`identity/spiffeids.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RegistrationMetadata(BaseModel):
    name: str = Field(min_length=1)


class RegistrationSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    spiffe_id: str = Field(alias="spiffeID")
    selectors: list[dict[str, str]] = Field(min_length=1)

    @field_validator("spiffe_id")
    @classmethod
    def _spiffe(cls, value: str) -> str:
        if not value.startswith("spiffe://"):
            raise ValueError("must be a SPIFFE ID (spiffe://trust-domain/path)")
        return value

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[dict[str, str]]) -> list[dict[str, str]]:
        for sel in value:
            if len(sel) != 1:
                raise ValueError("each selector is one `type:key: value` pair")
            (key,) = sel
            if ":" not in key:
                raise ValueError(f"selector {key!r} must be `type:key` (e.g. k8s:ns, unix:uid)")
        return value


class WorkloadRegistration(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: RegistrationMetadata
    spec: RegistrationSpec

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value != "WorkloadRegistration":
            raise ValueError("kind must be WorkloadRegistration")
        return value


WORKSPACE_SCHEMAS: dict[str, Any] = {"identity/spiffeids.yaml": list[WorkloadRegistration]}
