"""Identity routes on the real control plane: credential audit, SVID verification, metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from intelsec.config import Workspace
from intelsec.identity.ca import LocalCA
from intelsec.identity.tables import CredentialIssue
from intelsec.server.app import create_app
from intelsec.store.db import Database, upgrade
from tests.liveserver import serve


def test_identity_routes(workspace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (workspace_dir / "intelsec.yaml").open("a") as fh:
        fh.write("api_tokens:\n  - {name: reader, token_env: IDT_TOKEN, scopes: [read]}\n")
    monkeypatch.setenv("IDT_TOKEN", "t" * 32)
    ws = Workspace.load(workspace_dir)
    ca = LocalCA.init(ws.state_dir / "identity" / "ca", "example.com")
    other = LocalCA.init(tmp_path / "other", "other.org")
    (ca.directory / "keys" / "jwt.key.pem").unlink()  # verification must not need any CA private key
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(CredentialIssue(spiffe_id="spiffe://example.com/a", method="jwt", backend="postgresql",
                              role_name="svc_a_1", group_role="g", issued_at=now, valid_until=now + timedelta(hours=1)))
    auth = {"authorization": "Bearer " + "t" * 32}
    app = create_app(ws, db)
    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as c:
        assert c.get("/api/v1/identity/credentials").status_code == 401
        creds = c.get("/api/v1/identity/credentials", headers=auth).json()["credentials"]
        assert [x["role_name"] for x in creds] == ["svc_a_1"]
        good = ca.issue_x509("spiffe://example.com/a").chain_pem().decode()
        r = c.post("/api/v1/identity/verify", json={"certificate": good}, headers=auth).json()
        assert r["valid"] and r["spiffe_id"] == "spiffe://example.com/a"
        bad = other.issue_x509("spiffe://other.org/a").chain_pem().decode()
        r = c.post("/api/v1/identity/verify", json={"certificate": bad}, headers=auth).json()
        assert not r["valid"] and r["codes"] == ["no_bundle"]
        assert c.post("/api/v1/identity/verify", json={"certificate": "junk"}, headers=auth).status_code == 400
        assert "intelsec_identity_broker_credentials_active 1.0" in c.get("/metrics").text
        card = dict(app.state.ctx.extras["console.identity"](app.state.ctx))  # type: ignore[attr-defined]
        assert card["active DB credentials"] == 1 and card["trust domain"] == "example.com"
    db.dispose()
