"""The workspace's `telemetry/schema.yaml`: which fields are sensitive and how to tokenize them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

FieldKind = Literal["email", "ipv4", "ipv6", "ip", "account_id", "card", "digits", "alnum", "keep", "drop"]


class TelemetrySchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    undeclared: Literal["fail", "drop", "keep"] = "fail"
    fields: dict[str, FieldKind]
