"""Workspace file models for identity (`identity/spiffeids.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intelsec.identity.spiffeid import checked_spiffe_id


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

    _sid = field_validator("spiffe_id")(staticmethod(checked_spiffe_id))

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


def _check_id(value: str) -> str:
    from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id

    try:
        parse_spiffe_id(value)
    except InvalidSpiffeId as exc:
        raise ValueError(f"not a valid SPIFFE ID: {exc}") from None
    return value


class AuthzRule(BaseModel):
    """Callers (SPIFFE ID globs, `/`-separated) allowed on methods/paths of one service."""

    model_config = ConfigDict(extra="forbid")
    callers: list[str] = Field(min_length=1)
    methods: list[str] | None = None
    paths: list[str] = Field(default_factory=lambda: ["/**"])

    @field_validator("callers")
    @classmethod
    def _callers(cls, value: list[str]) -> list[str]:
        for c in value:
            if not c.startswith("spiffe://"):
                raise ValueError(f"caller {c!r} must be a SPIFFE ID or glob (spiffe://td/ns/*/sa/name)")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str] | None) -> list[str] | None:
        return [m.upper() for m in value] if value is not None else None

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for p in value:
            if not p.startswith("/"):
                raise ValueError(f"path pattern {p!r} must start with /")
        return value


class ServiceAuthz(BaseModel):
    """A service listed here accepts only the callers its rules name."""

    model_config = ConfigDict(extra="forbid")
    service: str
    allow: list[AuthzRule] = Field(min_length=1)

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        return _check_id(value)


WORKSPACE_SCHEMAS: dict[str, Any] = {"identity/spiffeids.yaml": list[WorkloadRegistration],
                                     "identity/authz.yaml": list[ServiceAuthz]}
