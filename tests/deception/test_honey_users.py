"""Honey DB users against the real PostgreSQL test server and its jsonlog/csvlog."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from intelsec.deception.honeytokens import make_test_token
from intelsec.deception.pglog import PgLogWatcher, PollStats, parse_csv
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed, _deploy
from tests.deception.helpers import invoke
from tests.pgserver import PostgresServer

ASSET = "honey-db-backup-admin"


@pytest.fixture
def honey(workspace_dir: Path) -> Iterator[Deployed]:
    """The template workspace with a unique honey role name (the server is shared by the session)."""
    from intelsec.clock import SystemClock

    assets = workspace_dir / "deception" / "assets.yaml"
    role = f"svc_honey_{uuid.uuid4().hex[:8]}"
    assets.write_text(assets.read_text().replace("role: svc_backup_admin", f"role: {role}"))
    d = _deploy(workspace_dir, f"sqlite:///{workspace_dir / '.intelsec' / 'state.db'}", SystemClock())
    yield d
    d.db.dispose()


def _login(pg: PostgresServer, user: str, password: str, app: str = "psql") -> str:
    """'' on success, else the server's error."""
    try:
        psycopg.connect(host="127.0.0.1", port=pg.port, user=user, password=password, dbname="postgres",
                        application_name=app, connect_timeout=5).close()
        return ""
    except psycopg.OperationalError as exc:
        return str(exc)


def _alerts(d: Deployed) -> list[Alert]:
    with d.db.session() as s:
        return list(s.query(Alert).filter(Alert.entity == ASSET).all())


def _watch(capsys: pytest.CaptureFixture[str], d: Deployed, log: Path) -> dict[str, int]:
    res = invoke(capsys, "deception", "watch-pg-log", str(log), "--once", "-f", "json", "-w", str(d.ws.root))
    assert res.code == 0, res.err
    return json.loads(res.out)  # type: ignore[no-any-return]


def test_honey_role_attempts_alert_and_normal_users_do_not(honey: Deployed, pg_server: PostgresServer,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    material = honey.registry.current(ASSET)
    role, password = material.public, material.secret["password"]
    dsn = pg_server.url("postgres")
    res = invoke(capsys, "deception", "honey-users", "sync", "--dsn", dsn, "-w", str(honey.ws.root))
    assert res.code == 0, res.err
    assert password not in res.out + res.err
    with psycopg.connect(dsn.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolconnlimit, "
                           "shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        assert row == (True, False, False, False, 0, f"intelsec honey user: {ASSET}")
        conn.execute(f'CREATE ROLE normal_{role} LOGIN PASSWORD \'normal-pass\'')
    # normal traffic first: nothing to report
    assert _login(pg_server, f"normal_{role}", "normal-pass") == ""
    assert _login(pg_server, "postgres", "") == ""
    time.sleep(0.3)
    totals = _watch(capsys, honey, pg_server.json_log())
    assert totals["records"] > 0 and totals["attempts"] == 0 and totals["alerts"] == 0
    assert _alerts(honey) == []
    # the honey role cannot get in, with the wrong password or the right one
    assert "password authentication failed" in _login(pg_server, role, "guess")
    assert "too many connections" in _login(pg_server, role, password)  # the SCRAM verifier matches
    time.sleep(0.3)
    assert _watch(capsys, honey, pg_server.json_log())["attempts"] == 2
    alerts = _alerts(honey)
    assert len(alerts) == 1 and alerts[0].test is False and alerts[0].count >= 1
    assert alerts[0].evidence["channel"] == "pg_log" and alerts[0].evidence["source_ip"] == "127.0.0.1"
    assert password not in json.dumps(alerts[0].evidence)
    assert honey.registry.get(ASSET).touch_count == 2  # both attempts counted
    # csvlog gives the same answer
    state_dir = honey.ws.state_dir / "deception"
    for f in state_dir.glob("pglog-*.json"):
        f.unlink()
    totals = _watch(capsys, honey, pg_server.csv_log())
    assert totals["attempts"] == 2 and totals["bad_lines"] == 0


def test_test_login_is_marked_as_test(honey: Deployed, pg_server: PostgresServer,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    m = honey.registry.current(ASSET)
    assert invoke(capsys, "deception", "honey-users", "sync", "--dsn", pg_server.url("postgres"),
                  "-w", str(honey.ws.root)).code == 0
    invoke(capsys, "deception", "watch-pg-log", str(pg_server.json_log()), "--once", "-w", str(honey.ws.root))
    token = make_test_token(m.key, ASSET, int(time.time()))[:51]
    assert _login(pg_server, m.public, m.secret["password"], app="it:" + token)
    time.sleep(0.3)
    assert _watch(capsys, honey, pg_server.json_log())["alerts"] == 1
    assert [a.test for a in _alerts(honey)] == [True]


def test_unreadable_lines_are_skipped_and_counted(honey: Deployed, pg_server: PostgresServer, tmp_path: Path) -> None:
    role = honey.registry.current(ASSET).public
    log = tmp_path / "postgresql.json"
    good = {"timestamp": "2026-01-01 00:00:00 UTC", "user": role, "dbname": "postgres", "remote_host": "10.1.2.3",
            "session_id": "s1", "error_severity": "FATAL", "message": f'password authentication failed for "{role}"'}
    log.write_text("not json at all\n" + json.dumps(good) + "\n" + '{"truncated": \n' + json.dumps([1, 2]) + "\n")
    watcher = PgLogWatcher(log, {role}, state_file=tmp_path / "state.json")
    stats = watcher.poll()
    assert stats.bad_lines == 3 and stats.records == 1 and len(stats.attempts) == 1
    assert stats.attempts[0].remote_host == "10.1.2.3" and stats.attempts[0].outcome == "refused"
    with log.open("a") as fh:
        fh.write(json.dumps({**good, "session_id": "s2"}))  # no newline yet: not read
    assert watcher.poll().records == 0
    with log.open("a") as fh:
        fh.write("\n")
    again = PgLogWatcher(log, {role}, state_file=tmp_path / "state.json")  # restart resumes at the offset
    assert again.poll().records == 1


def test_large_log_is_read_in_bounded_chunks(honey: Deployed, tmp_path: Path) -> None:
    """A big existing log is read chunk by chunk; a record longer than a chunk is skipped and counted."""
    role = honey.registry.current(ASSET).public
    log = tmp_path / "postgresql.json"
    rec = {"timestamp": "2026-01-01 00:00:00 UTC", "user": "app", "dbname": "postgres", "remote_host": "10.0.0.1",
           "session_id": "s", "error_severity": "LOG", "message": "connection authorized: user=app"}
    lines = [json.dumps({**rec, "session_id": f"s{i}"}) for i in range(300)]
    lines[150] = json.dumps({**rec, "user": role, "session_id": "h1", "error_severity": "FATAL"})
    lines[200] = json.dumps({**rec, "message": "x" * 5000})
    log.write_text("\n".join(lines) + "\n")
    watcher = PgLogWatcher(log, {role}, state_file=tmp_path / "state.json")
    watcher.chunk_bytes = 4096
    stats = watcher.poll()
    assert [a.session for a in stats.attempts] == ["h1"]
    assert stats.records == 299 and stats.bad_lines == 2  # the long record: its first chunk, then its tail
    assert watcher.offset == log.stat().st_size and watcher.poll().records == 0


def test_csv_multiline_record_and_garbage() -> None:
    stats = PollStats()
    text = ('2026-01-01 00:00:00 UTC,"u","db",1,"10.0.0.1:5",s1,1,"",x,,0,FATAL,28P01,"multi\nline",,,,,,,,,"",b,,0\n'
            "short,row\n")
    recs = list(parse_csv(text, stats))
    assert len(recs) == 1 and recs[0].message == "multi\nline" and recs[0].remote_host == "10.0.0.1"
    assert stats.bad_lines == 1


def test_sync_with_unreachable_server_is_a_clear_error(honey: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "deception", "honey-users", "sync", "--dsn", "postgresql://x:secretpw@127.0.0.1:9/db",
                 "-w", str(honey.ws.root))
    assert res.code == 2 and "cannot connect to PostgreSQL" in res.err and "secretpw" not in res.err


def test_control_plane_watches_configured_pg_log(workspace_dir: Path, pg_server: PostgresServer,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`deception.watch_pg_logs` in intelsec.yaml: the service tails the log by itself."""
    from intelsec.clock import SystemClock
    from intelsec.server.app import create_app
    from tests.deception.helpers import serve, wait_for

    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + f"deception:\n  watch_pg_logs: [{pg_server.json_log()}]\n  poll_seconds: 0.2\n")
    assets = workspace_dir / "deception" / "assets.yaml"
    role = f"svc_honey_{uuid.uuid4().hex[:8]}"
    assets.write_text(assets.read_text().replace("role: svc_backup_admin", f"role: {role}"))
    d = _deploy(workspace_dir, f"sqlite:///{workspace_dir / '.intelsec' / 'state.db'}", SystemClock())
    try:
        assert invoke(capsys, "deception", "honey-users", "sync", "--dsn", pg_server.url("postgres"),
                      "-w", str(workspace_dir)).code == 0
        with serve(create_app(d.ws, d.db, run_dispatcher=False)):
            assert "password authentication failed" in _login(pg_server, role, "hunter2")
            alerts = wait_for(lambda: _alerts(d), timeout=15)
            assert len(alerts) == 1 and alerts[0].evidence["channel"] == "pg_log"
    finally:
        d.db.dispose()


def test_bad_service_settings_refused(workspace_dir: Path) -> None:
    from intelsec.errors import ConfigError
    from intelsec.server.app import create_app
    from intelsec.server.routes.deception import on_startup

    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + "deception:\n  watch_pg_log: /var/log/x.json\n")
    from intelsec.clock import SystemClock

    d = _deploy(workspace_dir, f"sqlite:///{workspace_dir / '.intelsec' / 'state.db'}", SystemClock())
    try:
        app = create_app(d.ws, d.db, run_dispatcher=False)
        with pytest.raises(ConfigError, match="watch_pg_log"):
            on_startup(app.state.ctx)
    finally:
        d.db.dispose()
