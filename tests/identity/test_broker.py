"""The credential broker against the real PostgreSQL fixture: credentials work, then expire for real."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from intelsec.identity.broker import BrokerHandler, PostgresBroker
from intelsec.identity.ca import LocalCA
from intelsec.identity.settings import Grant
from intelsec.identity.tables import CredentialIssue
from intelsec.identity.tlsconfig import Material, client_context, expect_id, server_context
from intelsec.store.db import Database, upgrade
from intelsec.store.pgroles import scram_verifier
from tests.identity.netutil import LoopThread, start_server, wait_for_output
from tests.pgserver import PostgresServer

PAY = "spiffe://example.com/ns/prod/sa/payments"
LEDGER = "spiffe://example.com/ns/prod/sa/ledger"
BROKER = "spiffe://example.com/ns/prod/sa/broker"


def connect(pg: PostgresServer, db: str, user: str, password: str) -> psycopg.Connection:  # type: ignore[type-arg]
    return psycopg.connect(host="127.0.0.1", port=pg.port, dbname=db, user=user, password=password,
                           connect_timeout=5)


@dataclass
class Env:
    pg: PostgresServer
    dbname: str
    broker: PostgresBroker
    ca: LocalCA
    other: LocalCA
    url: str
    lt: LoopThread

    def material(self, ca: LocalCA, sid: str) -> Material:
        s = ca.issue_x509(sid)
        return Material(sid, s.chain_pem(), s.key_pem(), {"example.com": self.ca.bundle()})


@pytest.fixture
def env(pg_server: PostgresServer, tmp_path: Path) -> Iterator[Env]:
    dbname = pg_server.create_database("brk")
    admin = pg_server.url(dbname)
    group = f"payments_rw_{dbname[-6:]}"
    with psycopg.connect(f"host=127.0.0.1 port={pg_server.port} user=postgres dbname={dbname}", autocommit=True) as c:
        c.execute(f'CREATE ROLE "{group}" NOLOGIN')
        c.execute("CREATE TABLE ledger (id int)")
        c.execute(f'GRANT SELECT ON ledger TO "{group}"')
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(audit_url)
    broker = PostgresBroker(admin, [Grant(spiffe_id=PAY, group_role=group)], Database(audit_url),
                            ttl=timedelta(seconds=3))
    ca = LocalCA.init(tmp_path / "ca", "example.com")
    other = LocalCA.init(tmp_path / "other", "other.org")
    s = ca.issue_x509(BROKER)
    me = Material(BROKER, s.chain_pem(), s.key_pem(), {"example.com": ca.bundle(), "other.org": other.bundle()})

    class Static:
        def material(self) -> Material:
            return me

    handler = BrokerHandler(broker, Static(), "intelsec-broker")
    lt = LoopThread()
    _, addr = start_server(lt, handler, lambda: server_context(me, require_client_cert=False))
    yield Env(pg_server, dbname, broker, ca, other, f"https://{addr}/v1/credentials/postgres", lt)
    lt.stop()


def test_credential_works_then_expires_and_is_reaped(env: Env) -> None:
    with httpx.Client(verify=client_context(env.material(env.ca, PAY), expect_id(BROKER)), timeout=10) as c:
        r = c.post(env.url)
    assert r.status_code == 200, r.text
    cred = r.json()
    assert cred["username"].startswith("svc_payments_")
    assert (cred["host"], cred["port"], cred["database"]) == ("127.0.0.1", env.pg.port, env.dbname)
    with connect(env.pg, env.dbname, cred["username"], cred["password"]) as conn:
        assert conn.execute("SELECT count(*) FROM ledger").fetchone() == (0,)  # group role grants apply
    with pytest.raises(psycopg.OperationalError):
        connect(env.pg, env.dbname, cred["username"], "wrong-password")
    until = datetime.fromisoformat(cred["valid_until"])
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1.5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(env.pg, env.dbname, cred["username"], cred["password"])
    assert env.broker.reap() == [cred["username"]]
    with psycopg.connect(f"host=127.0.0.1 port={env.pg.port} user=postgres dbname={env.dbname}") as c:
        assert c.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (cred["username"],)).fetchone() == (0,)
    with env.broker.db.session() as s:
        row = s.scalars(select(CredentialIssue)).one()
        assert row.spiffe_id == PAY and row.method == "x509" and row.dropped_at is not None
        assert cred["password"] not in repr(row.__dict__)


def test_a_role_that_cannot_be_dropped_does_not_stall_the_reaper(env: Env) -> None:
    from intelsec.clock import FrozenClock

    clock = FrozenClock(datetime.now(UTC))
    env.broker.clock = clock
    stuck, ok = env.broker.issue(PAY, "x509"), env.broker.issue(PAY, "x509")
    with psycopg.connect(f"host=127.0.0.1 port={env.pg.port} user=postgres dbname={env.dbname}",
                         autocommit=True) as c:
        c.execute(f'CREATE TABLE owned (id int); ALTER TABLE owned OWNER TO "{stuck.username}"')
    clock.advance(3600)
    assert env.broker.reap() == [ok.username]
    with env.broker.db.session() as s:
        assert {r.role_name for r in s.scalars(select(CredentialIssue)) if r.dropped_at is None} == {stuck.username}


def test_jwt_svid_with_broker_audience(env: Env) -> None:
    plain = httpx.Client(verify=False, timeout=10)  # server auth is not the point here: the JWT is
    token = env.ca.issue_jwt(PAY, ["intelsec-broker"])
    r = plain.post(env.url, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["group_role"].startswith("payments_rw")
    wrong = env.ca.issue_jwt(PAY, ["someone-else"])
    r = plain.post(env.url, headers={"authorization": f"Bearer {wrong}"})
    assert r.status_code == 401 and any("audience" in x for x in r.json()["reasons"])
    with env.broker.db.session() as s:
        assert [r.method for r in s.scalars(select(CredentialIssue))] == ["jwt"]
    plain.close()


def test_unattested_and_unauthorised_callers_get_nothing(env: Env) -> None:
    with httpx.Client(verify=False, timeout=10) as c:
        r = c.post(env.url)
        assert r.status_code == 401 and "password" not in r.json()
        r = c.post(env.url, headers={"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."})
        assert r.status_code == 401
    with httpx.Client(verify=client_context(env.material(env.ca, LEDGER), expect_id(BROKER)), timeout=10) as c:
        r = c.post(env.url)
        assert r.status_code == 403 and "no credential grant" in r.json()["reasons"][0]
        assert c.get(env.url).status_code == 405
    foreign = env.material(env.other, "spiffe://other.org/ns/prod/sa/payments")
    foreign.bundles["example.com"] = env.ca.bundle()
    with httpx.Client(verify=client_context(foreign, expect_id(BROKER)), timeout=10) as c:
        assert c.post(env.url).status_code == 403
    with env.broker.db.session() as s:
        assert list(s.scalars(select(CredentialIssue))) == []


def test_scram_verifier_format() -> None:
    import re

    pw = "not-base64!"  # '-' and '!' are outside the base64 alphabet: it cannot show up by chance
    v = scram_verifier(pw)
    assert re.fullmatch(r"SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+", v), v
    assert pw not in v and scram_verifier(pw) != v  # salted


def test_audit_table_on_both_backends(migrated_db: Database) -> None:
    now = datetime.now(UTC)
    with migrated_db.session() as s:
        s.add(CredentialIssue(spiffe_id=PAY, method="x509", backend="postgresql", role_name="svc_x",
                              group_role="g", issued_at=now, valid_until=now + timedelta(minutes=5)))
    with migrated_db.session() as s:
        row = s.scalars(select(CredentialIssue)).one()
        assert row.valid_until > row.issued_at and row.dropped_at is None


def test_broker_cli_issues_via_jwt(pg_server: PostgresServer, tmp_path: Path, workspace_dir: Path) -> None:
    """The real `intelsec identity broker` process with settings from intelsec.yaml."""
    import os
    import subprocess
    import sys

    from intelsec.identity.ca import write_svid
    from tests.pgserver import free_port

    dbname = pg_server.create_database("cli")
    with psycopg.connect(f"host=127.0.0.1 port={pg_server.port} user=postgres dbname={dbname}", autocommit=True) as c:
        c.execute(f'CREATE ROLE "grp_{dbname[-8:]}" NOLOGIN')
    with (workspace_dir / "intelsec.yaml").open("a") as fh:
        fh.write(f"identity:\n  broker:\n    ttl: 5m\n    grants:\n"
                 f"      - {{spiffe_id: '{PAY}', group_role: grp_{dbname[-8:]}}}\n")
    ca = LocalCA.init(tmp_path / "ca", "example.com")
    files = write_svid(ca.issue_x509(BROKER), ca.bundle(), tmp_path / "b")
    port = free_port()
    env = {**os.environ, "INTELSEC_BROKER_ADMIN_URL": pg_server.url(dbname), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "intelsec", "identity", "broker", "--listen", f"127.0.0.1:{port}",
                             "--cert", files["cert"], "--key", files["key"], "--bundle",
                             str(ca.directory / "bundle.json"), "-w", str(workspace_dir)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        wait_for_output(proc.stderr, "broker listening")
        token = LocalCA.load(tmp_path / "ca").issue_jwt(PAY, ["intelsec-broker"])
        r = httpx.post(f"https://127.0.0.1:{port}/v1/credentials/postgres", verify=False, timeout=10,
                       headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        cred = r.json()
        connect(pg_server, dbname, cred["username"], cred["password"]).close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_missing_group_role_issues_nothing(env: Env) -> None:
    env.broker.grants.append(Grant(spiffe_id=LEDGER, group_role="no_such_group"))
    with httpx.Client(verify=client_context(env.material(env.ca, LEDGER), expect_id(BROKER)), timeout=10) as c:
        r = c.post(env.url)
    assert r.status_code == 503 and "no_such_group" in r.json()["reasons"][0]
    with env.broker.db.session() as s:
        assert list(s.scalars(select(CredentialIssue))) == []
    with psycopg.connect(f"host=127.0.0.1 port={env.pg.port} user=postgres dbname={env.dbname}") as c:
        assert c.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'svc_ledger_%'").fetchone() == (0,)


def test_broker_repr_hides_the_admin_url() -> None:
    b = PostgresBroker("postgresql://admin:hunter2-secret@db/app", [], Database("sqlite://"))
    assert "hunter2" not in repr(b)


def test_admin_without_createrole_is_a_clear_error(env: Env) -> None:
    from intelsec.errors import ConfigError

    weak = f"weak_{env.dbname[-6:]}"
    with psycopg.connect(f"host=127.0.0.1 port={env.pg.port} user=postgres dbname={env.dbname}",
                         autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'weak-pw'").format(sql.Identifier(weak)))
    broker = PostgresBroker(env.pg.url(env.dbname, weak, "weak-pw"), env.broker.grants, env.broker.db)
    with pytest.raises(ConfigError, match="refused to create the role: permission denied"):
        broker.issue(PAY, "x509")
    with env.broker.db.session() as s:
        assert list(s.scalars(select(CredentialIssue))) == []


def test_live_credentials_are_capped_per_workload(env: Env) -> None:
    env.broker.max_active = 2
    with httpx.Client(verify=client_context(env.material(env.ca, PAY), expect_id(BROKER)), timeout=10) as c:
        assert [c.post(env.url).status_code for _ in range(3)] == [200, 200, 429]
    with env.broker.db.session() as s:
        assert len(list(s.scalars(select(CredentialIssue)))) == 2
