"""The workspace's `telemetry/schema.yaml`: which fields are sensitive and how to tokenize them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FieldKind = Literal["email", "ipv4", "ipv6", "ip", "account_id", "card", "digits", "alnum", "keep", "drop"]


class FieldSpec(BaseModel):
    """Long form of a field entry, for kinds that take options."""

    model_config = ConfigDict(extra="forbid")

    type: FieldKind
    keep_last4: bool = Field(default=False, description="card: keep the last four digits")
    prefix4: int = Field(default=0, ge=0, le=32, description="ip/ipv4: leading bits kept in clear")
    prefix6: int = Field(default=0, ge=0, le=128, description="ip/ipv6: leading bits kept in clear")
    group: str | None = Field(default=None, min_length=1, max_length=128,
                              description="fields with the same group share tokens (e.g. source and destination "
                                          "IPs, so they still join); default: each field its own tokens")

    def tweak_name(self, path: str) -> str:
        """What the FPE tweak is derived from: the group when set, else the field path."""
        return f"group:{self.group}" if self.group else path

    def options(self) -> dict[str, object]:
        if self.type == "card":
            return {"keep_last4": self.keep_last4}
        if self.type in ("ip", "ipv4", "ipv6"):
            return {"prefix4": self.prefix4, "prefix6": self.prefix6}
        return {}


class TelemetrySchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    undeclared: Literal["fail", "drop", "keep"] = "fail"
    key: str | None = Field(default=None, description="key id in the keyring (default: privacy.default_key)")
    fields: dict[str, FieldKind | FieldSpec]

    def spec(self, path: str) -> FieldSpec:
        v = self.fields[path]
        return v if isinstance(v, FieldSpec) else FieldSpec(type=v)
