"""Workspace file models for identity (`identity/spiffeids.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RegistrationMetadata(BaseModel):
    name: str = Field(min_length=1)


# Selector keys we understand; other types pass validation and simply never match here.
SELECTOR_KEYS: dict[str, frozenset[str]] = {
    "unix": frozenset({"uid", "gid", "user", "group", "path", "sha256"}),
    "k8s": frozenset({"ns", "sa", "pod-name", "pod-uid", "pod-label", "container-name", "container-image",
                      "node-name"}),
}


class RegistrationSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    spiffe_id: str = Field(alias="spiffeID")
    selectors: list[dict[str, str | int]] = Field(min_length=1)
    ttl: str | None = Field(default=None, description="SVID lifetime for this entry, e.g. 1h")

    @field_validator("spiffe_id")
    @classmethod
    def _spiffe(cls, value: str) -> str:
        from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id

        try:
            parse_spiffe_id(value)
        except InvalidSpiffeId as exc:
            raise ValueError(f"not a valid SPIFFE ID: {exc}") from None
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str | None) -> str | None:
        if value is not None:
            from intelsec.clock import parse_duration

            if parse_duration(value).total_seconds() < 1:
                raise ValueError("ttl must be at least 1s")
        return value

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[dict[str, str | int]]) -> list[dict[str, str | int]]:
        for sel in value:
            if len(sel) != 1:
                raise ValueError("each selector is one `type:key: value` pair")
            (key,) = sel
            if ":" not in key:
                raise ValueError(f"selector {key!r} must be `type:key` (e.g. k8s:ns, unix:uid)")
            kind, name = key.split(":", 1)
            known = SELECTOR_KEYS.get(kind)
            if known is not None and name not in known:
                raise ValueError(f"unknown {kind} selector {key!r}; use one of: "
                                 + ", ".join(f"{kind}:{k}" for k in sorted(known)))
            if kind == "unix" and name in ("uid", "gid") and not str(sel[key]).isdigit():
                raise ValueError(f"selector {key!r} needs a numeric value")
        return value

    def selector_pairs(self) -> set[tuple[str, str]]:
        """Selectors as ("unix:uid", "1000") pairs."""
        return {(k, str(v)) for sel in self.selectors for k, v in sel.items()}


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
