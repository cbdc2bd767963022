"""The credential broker: an attested workload trades its SVID for a PostgreSQL login valid for minutes.

Roles are created `LOGIN ... VALID UNTIL ... IN ROLE <group>` so PostgreSQL itself refuses them
after expiry; the reaper then drops them. Passwords are sent to PostgreSQL as SCRAM verifiers, so
the plaintext never appears in server logs; the audit table records everything but the password.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from pydantic import BaseModel
from sqlalchemy import func, select

from intelsec.clock import Clock, SystemClock, utcnow
from intelsec.errors import ConfigError
from intelsec.identity.httpserver import Request, Response, json_response
from intelsec.identity.settings import Grant
from intelsec.identity.sources import SvidSource
from intelsec.identity.tables import CredentialIssue
from intelsec.identity.tlsconfig import peer_chain
from intelsec.identity.verify import verify_jwt_svid, verify_x509_svid
from intelsec.store.db import Database
from intelsec.store.pgroles import scram_verifier

log = logging.getLogger("intelsec.identity.broker")
PATH = "/v1/credentials/postgres"


class NotAuthorised(Exception):
    """The caller is attested but no grant covers it."""


class TooMany(Exception):
    """The workload already holds its maximum of live credentials."""


class Credential(BaseModel):
    username: str
    password: str
    group_role: str
    valid_until: datetime
    host: str | None = None
    port: int | None = None
    database: str | None = None

    def __repr__(self) -> str:
        return f"Credential({self.username}, until {self.valid_until.isoformat()})"

    __str__ = __repr__


def psycopg_dsn(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)


@dataclass
class PostgresBroker:
    admin_url: str = field(repr=False)  # may carry the admin password
    grants: list[Grant]
    db: Database
    ttl: timedelta = timedelta(minutes=10)
    role_prefix: str = "svc"
    clock: Clock = field(default_factory=SystemClock)
    max_active: int = 20  # live credentials per workload: an attested caller cannot flood pg_authid

    def grant_for(self, spiffe_id: str) -> Grant | None:
        return next((g for g in self.grants if hmac.compare_digest(g.spiffe_id, spiffe_id)), None)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(psycopg_dsn(self.admin_url), autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise ConfigError(f"broker cannot reach PostgreSQL: {type(exc).__name__}") from None

    def role_name(self, spiffe_id: str) -> str:
        tail = re.sub(r"[^a-z0-9_]", "_", spiffe_id.rsplit("/", 1)[-1].lower())[:32]
        return f"{self.role_prefix}_{tail}_{secrets.token_hex(4)}"

    def issue(self, spiffe_id: str, method: str) -> Credential:
        grant = self.grant_for(spiffe_id)
        if grant is None:
            raise NotAuthorised(f"no credential grant for {spiffe_id}")
        now = self.clock.now()
        until = now + self.ttl
        name, password = self.role_name(spiffe_id), secrets.token_urlsafe(24)
        stmt = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {} IN ROLE {}").format(
            sql.Identifier(name), sql.Literal(scram_verifier(password)), sql.Literal(until.isoformat()),
            sql.Identifier(grant.group_role))
        # The audit row is written in the same unit of work: if the role cannot be created, no row
        # remains; if the row cannot be written, the exception surfaces before any credential leaves.
        with self.db.session() as s:
            active = s.scalar(select(func.count()).select_from(CredentialIssue).where(
                CredentialIssue.spiffe_id == spiffe_id, CredentialIssue.dropped_at.is_(None),
                CredentialIssue.valid_until > now)) or 0
            if active >= self.max_active:
                raise TooMany(f"{spiffe_id} already holds {active} live credentials (limit {self.max_active})")
            s.add(CredentialIssue(spiffe_id=spiffe_id, method=method, backend="postgresql", role_name=name,
                                  group_role=grant.group_role, issued_at=now, valid_until=until))
            s.flush()
            with self._connect() as conn:
                try:
                    conn.execute(stmt)
                except psycopg.errors.UndefinedObject:
                    raise ConfigError(f"group role {grant.group_role!r} does not exist in PostgreSQL") from None
                except psycopg.Error as exc:  # e.g. the admin lacks CREATEROLE: a 503, not a handler crash
                    raise ConfigError("PostgreSQL refused to create the role: "
                                      f"{exc.diag.message_primary or type(exc).__name__}") from None
        log.info("issued %s to %s via %s until %s", name, spiffe_id, method, until.isoformat())
        target = urlsplit(psycopg_dsn(self.admin_url))  # where to connect; never the admin's own login
        return Credential(username=name, password=password, group_role=grant.group_role, valid_until=until,
                          host=target.hostname, port=target.port or 5432, database=target.path.lstrip("/") or None)

    def reap(self) -> list[str]:
        """Drop roles whose validity has ended (their sessions are terminated first)."""
        now = self.clock.now()
        with self.db.session() as s:
            due = list(s.scalars(select(CredentialIssue).where(CredentialIssue.dropped_at.is_(None),
                                                               CredentialIssue.valid_until <= now)))
            if not due:
                return []
            dropped = []
            with self._connect() as conn:
                for row in due:
                    try:  # one role that cannot be dropped (it owns objects) must not stall the others
                        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                                     (row.role_name,))
                        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(row.role_name)))
                    except psycopg.Error as exc:
                        log.warning("cannot drop expired role %s: %s", row.role_name,
                                    exc.diag.message_primary or type(exc).__name__)
                        continue
                    row.dropped_at = now
                    dropped.append(row.role_name)
        log.info("reaped %d expired roles", len(dropped))
        return dropped


class BrokerHandler:
    """HTTP front of the broker: identity from the mTLS SVID, else a JWT-SVID for the broker's audience."""

    def __init__(self, broker: PostgresBroker, source: SvidSource, audience: str) -> None:
        self.broker, self.source, self.audience = broker, source, audience

    def identify(self, request: Request) -> tuple[str | None, str, list[str]]:
        bundles = self.source.material().bundles
        chain = peer_chain(request.ssl_object)
        reasons: list[str] = []
        if chain:
            v = verify_x509_svid(chain, bundles, utcnow(), tls_verified=True)
            if v.valid and v.spiffe_id:
                return v.spiffe_id, "x509", []
            reasons += v.reasons
        auth = request.header("authorization") or ""
        if auth.lower().startswith("bearer "):
            j = verify_jwt_svid(auth[7:].strip(), bundles, self.audience, utcnow())
            if j.valid and j.spiffe_id:
                return j.spiffe_id, "jwt", []
            reasons += j.reasons
        return None, "", reasons or ["no client SVID and no JWT-SVID presented"]

    async def __call__(self, request: Request) -> Response:
        if request.path != PATH:
            return json_response(404, {"error": "not found"})
        if request.method != "POST":
            return json_response(405, {"error": "use POST"})
        spiffe_id, method, reasons = self.identify(request)
        if spiffe_id is None:
            return json_response(401, {"error": "unattested", "reasons": reasons})
        try:
            cred = await asyncio.to_thread(self.broker.issue, spiffe_id, method)
        except NotAuthorised as exc:
            return json_response(403, {"error": "forbidden", "reasons": [str(exc)]})
        except TooMany as exc:
            return json_response(429, {"error": "too many live credentials", "reasons": [str(exc)]})
        except ConfigError as exc:
            log.error("broker failed: %s", exc)
            return json_response(503, {"error": "unavailable", "reasons": [str(exc)]})
        return json_response(200, cred.model_dump(mode="json"))

    async def aclose(self) -> None:
        return None
