"""Workspace file models for egress: allowlist, categories, exceptions and enforcement modes.

Every destination pattern and CIDR is checked when the file loads, so a typo fails
`intelsec config validate` (and every egress command) with file:line instead of silently never
matching.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

Mode = Literal["audit", "enforce"]
Risk = Literal["low", "medium", "high", "critical"]

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def check_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"invalid CIDR {value!r}: {exc}") from None


def check_domain(value: str, wildcards: bool = False) -> str:
    """A lower-case DNS name; with `wildcards`, a leading `*.` (one label) or `**.` (any depth)."""
    name = value.strip().lower().rstrip(".")
    body = name
    if wildcards and name.startswith(("**.", "*.")):
        body = name.split(".", 1)[1]
    if not body or len(body) > 253 or "." not in body or not all(_LABEL.match(x) for x in body.split(".")):
        raise ValueError(f"invalid domain {value!r}")
    return name


def is_cidr(value: str) -> bool:
    return "/" in value


def check_destination(value: str) -> str:
    return check_cidr(value) if is_cidr(value) else check_domain(value, wildcards=True)


def _check_namespace(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"invalid namespace name {value!r}")
    return value


Destination = Annotated[str, AfterValidator(check_destination)]
Domain = Annotated[str, AfterValidator(check_domain)]
Cidr = Annotated[str, AfterValidator(check_cidr)]
Namespace = Annotated[str, AfterValidator(_check_namespace)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Allowlist(_Strict):
    """`egress/allowlist.yaml`: per-namespace approved destinations (names, `*.`/`**.` patterns, CIDRs)."""

    namespaces: dict[Namespace, list[Destination]] = Field(default_factory=dict)


class CategoryFile(_Strict):
    """`egress/categories/<name>.yaml`: a destination category (domain suffixes and CIDRs)."""

    name: str
    description: str = ""
    risk: Risk = "medium"
    # An approved category is reachable from every namespace without an allowlist entry.
    approved: bool = False
    domains: list[Domain] = Field(default_factory=list)
    cidrs: list[Cidr] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value) or value == "unknown":
            raise ValueError(f"invalid category name {value!r} (lower-case, dashes; 'unknown' is reserved)")
        return value


class ExceptionEntry(_Strict):
    """A ticket-tagged, expiring approval of one destination or category for one namespace."""

    id: str | None = None
    namespace: str
    destination: Destination | None = None
    category: str | None = None
    ticket: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: datetime
    reason: str = ""

    @field_validator("expires", mode="before")
    @classmethod
    def _expires(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            # a bare date means "through the end of that day (UTC)"
            return datetime(value.year, value.month, value.day, 23, 59, 59, tzinfo=UTC)
        return value

    @field_validator("expires")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _target(self) -> ExceptionEntry:
        if (self.destination is None) == (self.category is None):
            raise ValueError("set exactly one of `destination` or `category`")
        if self.id is None:
            self.id = f"{self.ticket}:{self.namespace}:{self.destination or 'category=' + str(self.category)}"
        return self

    def policy_view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "destination": self.destination,
            "category": self.category,
            "ticket": self.ticket,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
        }


class ExceptionBudget(_Strict):
    default: int = Field(default=5, ge=0)
    namespaces: dict[str, int] = Field(default_factory=dict)

    def for_namespace(self, ns: str) -> int:
        return self.namespaces.get(ns, self.default)


class ExceptionsFile(_Strict):
    """`egress/exceptions.yaml`."""

    budget: ExceptionBudget = Field(default_factory=ExceptionBudget)
    exceptions: list[ExceptionEntry] = Field(default_factory=list)


class EnvironmentModes(_Strict):
    """Modes for one environment: a default, then per-category and per-namespace overrides."""

    mode: Mode = "audit"
    categories: dict[str, Mode] = Field(default_factory=dict)
    namespaces: dict[str, Mode] = Field(default_factory=dict)


class SourceMapping(_Strict):
    """Maps a client/source address range to a namespace (proxy clients, VPC flow sources)."""

    cidr: Cidr
    namespace: str


class ProxyIdentity(_Strict):
    """A Proxy-Authorization (Basic) user mapped to a namespace; the password lives in the environment.

    The password is required: a user name alone would let any client claim any namespace."""

    user: str
    namespace: str
    password_env: str = Field(min_length=1)


DEFAULT_INTERNAL = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
]


class Enforcement(_Strict):
    """`egress/enforcement.yaml`: roll-out modes per environment plus what counts as in-cluster."""

    default_environment: str = "prod"
    environments: dict[str, EnvironmentModes] = Field(default_factory=dict)
    internal_cidrs: list[Cidr] = Field(default_factory=lambda: list(DEFAULT_INTERNAL))
    internal_domains: list[str] = Field(default_factory=lambda: ["cluster.local"])
    sources: list[SourceMapping] = Field(default_factory=list)
    identities: list[ProxyIdentity] = Field(default_factory=list)
    default_namespace: str = "unknown"

    @field_validator("internal_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        out = []
        for d in value:
            name = d.strip().lower().strip(".")
            if not name or not all(_LABEL.match(x) for x in name.split(".")):
                raise ValueError(f"invalid domain {d!r}")
            out.append(name)
        return out


WORKSPACE_SCHEMAS: dict[str, Any] = {
    "egress/allowlist.yaml": Allowlist,
    "egress/categories/*.yaml": CategoryFile,
    "egress/exceptions.yaml": ExceptionsFile,
    "egress/enforcement.yaml": Enforcement,
}


class ProxySection(_Strict):
    """intelsec.yaml `egress.proxy`: run the enforcing proxy inside `intelsec up`."""

    listen: str = "127.0.0.1:3128"
    env: str | None = None
    flow_log: str = ".intelsec/egress/proxy-flows.jsonl"
    max_connections: int = Field(default=1024, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)
    idle_timeout: float = Field(default=60.0, gt=0)
    resolve: dict[str, str] = Field(default_factory=dict)


class EgressSection(_Strict):
    """The `egress:` section of intelsec.yaml."""

    proxy: ProxySection | None = None
