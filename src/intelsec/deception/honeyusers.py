"""Honey database users: PostgreSQL roles that exist only to be tried.

A honey role can log in in name only: no privileges, no memberships, no CONNECT on any database
(revoked explicitly) and `CONNECTION LIMIT 0`, so even the right password is refused after
authentication. Every attempt, right or wrong password, is logged by the server with the role's
name, which is what `watch-pg-log` alerts on. Passwords are sent as SCRAM verifiers, so the
plaintext never appears in a statement (or a statement log).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intelsec.errors import InputError
from intelsec.store.pgroles import scram_verifier

COMMENT_PREFIX = "intelsec honey user"


@dataclass
class HoneyRole:
    asset_id: str
    role: str
    password: str = field(repr=False)


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)


def sync(dsn: str, roles: list[HoneyRole], drop_missing: bool = True) -> SyncReport:
    """Create/update honey roles on the server at `dsn` (needs CREATEROLE), drop undeclared ones."""
    import psycopg
    from psycopg import sql

    report = SyncReport()
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise InputError(f"cannot connect to PostgreSQL for honey users: {str(exc).strip().splitlines()[0]}") from None
    with conn:
        existing = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles")}
        report.databases = [d for (d,) in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
        for hr in roles:
            ident = sql.Identifier(hr.role)
            verb = "ALTER" if hr.role in existing else "CREATE"
            verifier = sql.Literal(scram_verifier(hr.password))
            conn.execute(sql.SQL(
                "{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT "
                "CONNECTION LIMIT 0 PASSWORD {}").format(sql.SQL(verb), ident, verifier))
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                ident, sql.Literal(f"{COMMENT_PREFIX}: {hr.asset_id}")))
            for (parent,) in conn.execute(
                    "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                    "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", (hr.role,)).fetchall():
                conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(parent), ident))
            for db in report.databases:
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(db), ident))
            (report.updated if verb == "ALTER" else report.created).append(hr.role)
        if drop_missing:
            declared = {hr.role for hr in roles}
            managed = [r for (r,) in conn.execute(
                "SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE %s",
                (COMMENT_PREFIX + ":%",))]
            for r in managed:
                if r not in declared:
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(r)))
                    report.dropped.append(r)
    return report
