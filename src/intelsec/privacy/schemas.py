"""Workspace files owned by privacy: `dlp/policies.yaml` and `telemetry/schema.yaml`."""

from __future__ import annotations

from typing import Any

from intelsec.privacy.dlp.config import DlpPolicies
from intelsec.privacy.telemetry_schema import TelemetrySchema

WORKSPACE_SCHEMAS: dict[str, Any] = {"dlp/policies.yaml": DlpPolicies, "telemetry/schema.yaml": TelemetrySchema}
