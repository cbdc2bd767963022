"""Audited detokenization: service rules on SQLite and PostgreSQL, CLI, and the HTTP API on a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from intelsec.clock import FrozenClock
from intelsec.config import Workspace
from intelsec.privacy.config import DetokenizeConfig
from intelsec.privacy.detokenize import Denied, Detokenizer, DetokenizeRequest
from intelsec.privacy.keys.interface import DataKey
from intelsec.privacy.tables import DetokenizeAudit
from intelsec.privacy.telemetry_schema import TelemetrySchema
from intelsec.privacy.tokenizers import make_tokenizer
from tests.clirunner import invoke
from tests.liveserver import serve

KEY = DataKey("telemetry", 3, "ff1", bytes(range(32)))
SCHEMA = TelemetrySchema(fields={"user.email": "email", "source.ip": {"type": "ipv4", "prefix4": 8},
                                 "event.action": "keep"})


def token(field: str, kind: str, value: str, **opts: object) -> str:
    t = make_tokenizer(kind, KEY.material, field, "ff1", **opts).tokenize([value]).values[0]
    assert t is not None
    return t


def rows(db) -> list[DetokenizeAudit]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return list(s.scalars(select(DetokenizeAudit).order_by(DetokenizeAudit.time, DetokenizeAudit.id)))


def test_service_grants_denies_and_audits_everything(migrated_db) -> None:  # type: ignore[no-untyped-def]
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    svc = Detokenizer(migrated_db, SCHEMA, lambda v: KEY, DetokenizeConfig(requests_per_minute=2, max_tokens=3),
                      clock)
    email_tok = token("user.email", "email", "alice.smith@example.com")
    ip_tok = token("source.ip", "ipv4", "10.1.2.3", prefix4=8)
    res = svc.detokenize("alice", "cli", DetokenizeRequest(field="user.email", tokens=[email_tok, "junk"],
                                                           reason="IR-1 phishing triage", ticket="IR-1"))
    assert res.values == ["alice.smith@example.com", None] and 1 in res.errors and res.key_version == 3
    res = svc.detokenize("alice", "cli", DetokenizeRequest(field="source.ip", tokens=[ip_tok], reason="IR-1 scope"))
    assert res.values == ["10.1.2.3"]
    denials = [
        (DetokenizeRequest(field="user.email", tokens=[email_tok], reason="IR-1 again"), 429),  # third in a minute
        (DetokenizeRequest(field="event.action", tokens=["login"], reason="long enough"), 400),
        (DetokenizeRequest(field="nope", tokens=["x"], reason="long enough"), 400),
        (DetokenizeRequest(field="user.email", tokens=[email_tok], reason="why"), 400),
        (DetokenizeRequest(field="user.email", tokens=[email_tok] * 4, reason="long enough"), 413),
    ]
    for req, status in denials:
        with pytest.raises(Denied) as err:
            svc.detokenize("alice", "cli", req)
        assert err.value.status == status and err.value.audit_id
    # the limit is per caller and per minute
    assert svc.detokenize("bob", "api", DetokenizeRequest(field="source.ip", tokens=[ip_tok],
                                                          reason="case 2 check")).values == ["10.1.2.3"]
    clock.advance(timedelta(seconds=61))
    assert svc.detokenize("alice", "cli", DetokenizeRequest(field="source.ip", tokens=[ip_tok],
                                                            reason="case 3 check")).values == ["10.1.2.3"]
    audit = rows(migrated_db)
    assert sorted((a.caller, a.granted) for a in audit) == sorted(
        [("alice", True)] * 3 + [("alice", False)] * 5 + [("bob", True)])
    first = next(a for a in audit if a.ticket == "IR-1")
    assert first.count == 2 and first.key_version == 3 and first.granted
    assert sum(a.decision.startswith("rate limit") for a in audit) == 1
    text = json.dumps([[str(getattr(a, c)) for c in ("field", "reason", "decision", "ticket")] for a in audit])
    assert "alice.smith" not in text and email_tok not in text and "10.1.2.3" not in text


def test_key_unavailable_is_denied_and_audited(migrated_db) -> None:  # type: ignore[no-untyped-def]
    from intelsec.privacy.keys.interface import ProviderError

    def broken(v: int | None) -> DataKey:
        raise ProviderError("no master key")

    svc = Detokenizer(migrated_db, SCHEMA, broken)
    with pytest.raises(Denied, match="key unavailable") as err:
        svc.detokenize("x", "cli", DetokenizeRequest(field="user.email", tokens=["a"], reason="long enough"))
    assert err.value.status == 503 and rows(migrated_db)[0].granted is False


def test_rate_limit_holds_under_concurrent_requests(migrated_db) -> None:  # type: ignore[no-untyped-def]
    """The API runs requests on a thread pool: the limit check and the grant record must be one step."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    def slow_key(v: int | None) -> DataKey:
        time.sleep(0.05)  # a KMS round trip widens the window between check and grant
        return KEY

    svc = Detokenizer(migrated_db, SCHEMA, slow_key, DetokenizeConfig(requests_per_minute=3))
    req = DetokenizeRequest(field="source.ip", tokens=["10.9.9.9"], reason="IR-7 concurrency")

    def one(_: int) -> bool:
        try:
            svc.detokenize("bob", "api", req)
        except Denied as exc:
            assert exc.status == 429
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        granted = sum(pool.map(one, range(8)))
    assert granted == 3 and sum(r.granted for r in rows(migrated_db)) == 3


def test_cli_tokenize_then_detokenize(workspace_dir: Path, master_key: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace_dir)
    assert invoke(capsys, "privacy", "keys", "create", "-w", ws).code == 0
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"user": {"email": "alice.smith@example.com"}}) + "\n")
    assert invoke(capsys, "privacy", "tokenize", "-w", ws, str(src), "-o", str(out)).code == 0
    tok = json.loads(out.read_text())["user"]["email"]
    assert invoke(capsys, "privacy", "keys", "rotate", "-w", ws).code == 0
    r = invoke(capsys, "privacy", "detokenize", "-w", ws, "--field", "user.email", "--reason", "IR-9 triage",
               "--ticket", "IR-9", "--by", "carol", "--key-version", "1", tok)
    assert (r.code, r.out) == (0, "alice.smith@example.com\n")
    r = invoke(capsys, "privacy", "detokenize", "-w", ws, "--field", "user.email", "--reason", "no", tok)
    assert r.code == 1 and "reason of at least" in r.err
    r = invoke(capsys, "privacy", "audit", "-w", ws, "--format", "json")
    audit = json.loads(r.out)
    assert [(a["caller"], a["granted"], a["ticket"]) for a in audit][-1] == ("carol", True, "IR-9")
    assert len(audit) == 2 and "alice.smith" not in r.out


@pytest.fixture
def live(workspace_dir: Path, master_key: str, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[str, Workspace]]:
    from intelsec.server.app import create_app
    from intelsec.store.db import Database, upgrade

    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + (
        "api_tokens:\n  - {name: investigator, token_env: T_DETOK, scopes: [read, detokenize]}\n"
        "  - {name: reader, token_env: T_READ, scopes: [read]}\n"
        "privacy:\n  detokenize: {requests_per_minute: 3, max_tokens: 5}\n"))
    monkeypatch.setenv("T_DETOK", "detok-secret-1")
    monkeypatch.setenv("T_READ", "read-secret-1")
    assert invoke(capsys, "privacy", "keys", "create", "-w", str(workspace_dir)).code == 0
    ws = Workspace.load(workspace_dir)
    url = ws.database_url()
    upgrade(url)
    db = Database(url)
    with serve(create_app(ws, db, run_dispatcher=False)) as base:
        yield base, ws
    db.dispose()


def test_api_detokenize_auth_limits_and_audit(live: tuple[str, Workspace]) -> None:
    from intelsec.privacy.keys.factory import workspace_keyring

    base, ws = live
    key = workspace_keyring(ws).data_key("telemetry")
    tok = make_tokenizer("email", key.material, "user.email").tokenize(["alice.smith@example.com"]).values[0]
    body = {"field": "user.email", "tokens": [tok], "reason": "IR-77 account takeover", "ticket": "IR-77"}
    good = {"Authorization": "Bearer detok-secret-1"}
    with httpx.Client(base_url=base, timeout=10) as c:
        r = c.post("/api/v1/privacy/detokenize", json=body)
        assert r.status_code == 401 and r.json()["detail"]["audit_id"]
        r = c.post("/api/v1/privacy/detokenize", json=body, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = c.post("/api/v1/privacy/detokenize", json=body, headers={"Authorization": "Bearer read-secret-1"})
        assert r.status_code == 403
        r = c.post("/api/v1/privacy/detokenize", json=body, headers=good)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["values"] == ["alice.smith@example.com"] and out["errors"] == [] and out["key_version"] == 1
        r = c.post("/api/v1/privacy/detokenize", content=b"{not json", headers=good)
        assert r.status_code == 422
        r = c.post("/api/v1/privacy/detokenize", json=body | {"tokens": [tok] * 6}, headers=good)
        assert r.status_code == 413
        r = c.post("/api/v1/privacy/detokenize", json=body | {"tokens": ["7" * 100_000]}, headers=good)
        assert r.status_code == 422 and "tokens.0" in r.json()["detail"]  # one huge token must not pin a worker
        r = c.post("/api/v1/privacy/detokenize", json=body | {"tokens": [tok, "x"]}, headers=good)
        assert r.status_code == 200 and r.json()["values"] == ["alice.smith@example.com", None]
        assert c.post("/api/v1/privacy/detokenize", json=body, headers=good).status_code == 200
        r = c.post("/api/v1/privacy/detokenize", json=body, headers=good)
        assert r.status_code == 429 and "rate limit" in r.json()["detail"]
        metrics = c.get("/metrics").text
    assert 'intelsec_privacy_detokenize_requests_total{result="granted"} 3.0' in metrics
    assert 'intelsec_privacy_detokenize_requests_total{result="unauthorised"} 3.0' in metrics
    assert 'intelsec_privacy_detokenize_requests_total{result="limited"} 1.0' in metrics
    from intelsec.store.db import Database

    db = Database(ws.database_url())
    audit = rows(db)
    db.dispose()
    assert len(audit) == 10 and sum(a.granted for a in audit) == 3
    assert [a.caller for a in audit[:3]] == ["anonymous", "anonymous", "reader"]
    assert all(a.channel == "api" for a in audit)
    assert not any("detok-secret" in (a.decision or "") or "alice" in (a.reason or "") for a in audit)
    from intelsec.alerts.factory import alert_service

    db = Database(ws.database_url())
    alerts = alert_service(ws, db).list(source="privacy")
    db.dispose()
    assert sorted(a.rule for a in alerts) == ["privacy.detokenize_rate_limited", "privacy.detokenize_without_scope"]
    assert {a.entity for a in alerts} == {"investigator", "reader"}
