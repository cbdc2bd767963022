"""Audited detokenization: decide, write the audit record, then reverse exactly the tokens asked for.

Every request, granted or denied, leaves one row in `privacy_detokenize_audit` (who, when, field,
how many, reason, ticket, decision) before any value is returned; if the audit cannot be written,
nothing is returned. The per-caller rate limit counts the caller's granted requests in the audit
table over the last minute, so it holds across the CLI, the API and several server processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select

from intelsec.clock import Clock, SystemClock
from intelsec.config import Workspace
from intelsec.errors import IntelsecError
from intelsec.privacy.config import DetokenizeConfig
from intelsec.privacy.keys.interface import DataKey
from intelsec.privacy.keys.keyring import Keyring
from intelsec.privacy.tables import DetokenizeAudit
from intelsec.privacy.telemetry_schema import TelemetrySchema
from intelsec.privacy.tokenizers import make_tokenizer
from intelsec.store.db import Database

MIN_REASON = 8
# Longer than any address or id we tokenize (an email is at most 254); FF1's cost grows with length,
# so one huge token must not tie up a worker.
MAX_TOKEN_CHARS = 320


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=255)
    tokens: list[Annotated[str, StringConstraints(max_length=MAX_TOKEN_CHARS)]] = Field(min_length=1)
    reason: str = Field(max_length=2000)
    ticket: str | None = Field(default=None, max_length=128)
    key_version: int | None = Field(default=None, ge=1)


class Denied(IntelsecError):
    """A detokenization request was refused; `status` is the HTTP status the API answers with."""

    exit_code = 1

    def __init__(self, message: str, status: int = 403, audit_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.audit_id = audit_id


@dataclass
class DetokenizeResult:
    values: list[str | None]
    errors: dict[int, str] = field(default_factory=dict)
    audit_id: str = ""
    key_id: str = ""
    key_version: int = 0


class Detokenizer:
    def __init__(self, db: Database, schema: TelemetrySchema, key_for: Callable[[int | None], DataKey],
                 limits: DetokenizeConfig | None = None, clock: Clock | None = None) -> None:
        self.db = db
        self.schema = schema
        self.key_for = key_for
        self.limits = limits or DetokenizeConfig()
        self.clock = clock or SystemClock()
        self._grant_lock = threading.Lock()  # rate-limit check and grant record as one step per process

    def audit(self, caller: str, channel: str, granted: bool, decision: str, *, field_name: str | None = None,
              count: int = 0, reason: str | None = None, ticket: str | None = None,
              key: DataKey | None = None) -> str:
        row = DetokenizeAudit(time=self.clock.now(), caller=caller[:128], channel=channel,
                              field=(field_name or None) and field_name[:255], count=count, reason=reason,
                              ticket=ticket, granted=granted, decision=decision[:255],
                              key_id=key.key_id if key else None, key_version=key.version if key else None)
        with self.db.session() as s:
            s.add(row)
            s.flush()
            return row.id

    def _recent_granted(self, caller: str) -> int:
        since = self.clock.now() - timedelta(minutes=1)
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(DetokenizeAudit).where(
                DetokenizeAudit.caller == caller, DetokenizeAudit.granted.is_(True),
                DetokenizeAudit.time >= since)) or 0)

    def _deny(self, caller: str, channel: str, req: DetokenizeRequest, message: str, status: int = 403) -> Denied:
        audit_id = self.audit(caller, channel, False, message, field_name=req.field, count=len(req.tokens),
                              reason=req.reason, ticket=req.ticket)
        return Denied(message, status, audit_id)

    def detokenize(self, caller: str, channel: str, req: DetokenizeRequest) -> DetokenizeResult:
        kind = self.schema.spec(req.field).type if req.field in self.schema.fields else None
        if kind is None or kind in ("keep", "drop"):
            raise self._deny(caller, channel, req, f"field {req.field!r} is not a tokenized field of the schema",
                             status=400)
        if len(req.reason.strip()) < MIN_REASON:
            raise self._deny(caller, channel, req, f"a reason of at least {MIN_REASON} characters is required",
                             status=400)
        if len(req.tokens) > self.limits.max_tokens:
            raise self._deny(caller, channel, req, f"at most {self.limits.max_tokens} tokens per request",
                             status=413)
        with self._grant_lock:
            if self._recent_granted(caller) >= self.limits.requests_per_minute:
                raise self._deny(caller, channel, req, f"rate limit: {self.limits.requests_per_minute} requests "
                                 "per minute per caller", status=429)
            try:
                key = self.key_for(req.key_version)
            except IntelsecError as exc:
                raise self._deny(caller, channel, req, f"key unavailable: {exc}", status=503) from None
            audit_id = self.audit(caller, channel, True, "granted", field_name=req.field, count=len(req.tokens),
                                  reason=req.reason, ticket=req.ticket, key=key)
        spec = self.schema.spec(req.field)
        tok = make_tokenizer(kind, key.material, spec.tweak_name(req.field), key.alg, **spec.options())
        res = tok.detokenize(req.tokens)
        return DetokenizeResult(res.values[: len(req.tokens)], res.errors, audit_id, key.key_id, key.version)

    def recent(self, limit: int = 50) -> list[DetokenizeAudit]:
        with self.db.session() as s:
            return list(s.scalars(select(DetokenizeAudit).order_by(DetokenizeAudit.time.desc()).limit(limit)))


def detokenizer_for(ws: Workspace, db: Database, clock: Clock | None = None,
                    schema_path: Path | None = None) -> Detokenizer:
    """The workspace's detokenizer; the key provider is opened on first use, not at start-up."""
    from intelsec.privacy.config import privacy_config
    from intelsec.privacy.keys.factory import keyring_for
    from intelsec.yamlio import load_model

    cfg = privacy_config(ws)
    schema: TelemetrySchema = load_model(schema_path or ws.path("telemetry/schema.yaml"), TelemetrySchema)
    key_id = schema.key or cfg.default_key
    rings: list[Keyring] = []

    def key_for(version: int | None) -> DataKey:
        if not rings:
            rings.append(keyring_for(cfg, ws.root))
        return rings[0].data_key(key_id, version)

    return Detokenizer(db, schema, key_for, cfg.detokenize, clock)
