"""Asset registry: deploy from the workspace, status/health, secrets hidden, rotation with grace."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from intelsec.clock import FrozenClock
from intelsec.deception.spec import load_config
from intelsec.errors import ConfigError, NotFoundError
from intelsec.fingerprints import classify, load_all
from intelsec.workspace.validate import validate_workspace
from tests.deception.conftest import Deployed
from tests.deception.helpers import invoke


def test_template_declares_six_assets_of_four_kinds(workspace_dir: Path) -> None:
    report = validate_workspace(workspace_dir)
    assert [e for e in report.errors if "/deception/" in e] == []
    assert "deception/assets.yaml" in report.checked and "deception/canary-routes.yaml" in report.checked
    cfg = load_config(__import__("intelsec.config").config.Workspace.load(workspace_dir))
    assert len(cfg.assets) >= 6
    assert len({a.kind for a in cfg.assets}) >= 4


def test_deploy_creates_every_asset_once(frozen: Deployed) -> None:
    assets = frozen.registry.assets()
    assert len(assets) == len(frozen.cfg.assets) >= 6
    again = frozen.registry.deploy(frozen.cfg.assets, frozen.cfg.canary_base())
    assert again.created == [] and sorted(again.unchanged) == sorted(a.id for a in assets)
    key = frozen.registry.current("aws-ci-deploy-key")
    assert key.public.startswith("AKIA") and len(key.public) == 20
    assert len(key.secret["secret_access_key"]) == 40
    assert "secret" not in repr(key) and key.secret["key"] not in repr(key)


def test_planted_values_are_known_honeytokens(frozen: Deployed) -> None:
    filters = load_all(frozen.ws.state_dir)
    token = frozen.registry.current("api-token-billing-export").secret["token"]
    assert token.startswith("sk_live_")
    assert classify(token, filters) == "honeytoken"
    assert classify(frozen.registry.current("aws-ci-deploy-key").public, filters) == "honeytoken"
    assert classify("sk_live_" + "x" * 32, filters) is None


def test_removed_asset_is_retired_and_unwatched(frozen: Deployed) -> None:
    keep = [a for a in frozen.cfg.assets if a.id != "aws-ci-deploy-key"]
    report = frozen.registry.deploy(keep, frozen.cfg.canary_base())
    assert report.retired == ["aws-ci-deploy-key"]
    assert frozen.registry.watched("aws-ci-deploy-key") == []
    assert frozen.registry.get("aws-ci-deploy-key").status == "retired"
    with pytest.raises(NotFoundError):
        frozen.registry.get("no-such-asset")


def test_rotation_keeps_old_material_watched_for_grace(frozen: Deployed) -> None:
    clock = frozen.clock
    assert isinstance(clock, FrozenClock)
    assert frozen.registry.due() == []
    old = frozen.registry.current("aws-ci-deploy-key")
    clock.advance(timedelta(days=30, seconds=1))  # template: every 30d, grace 7d
    assert "aws-ci-deploy-key" in frozen.registry.due()
    new = frozen.registry.rotate("aws-ci-deploy-key", frozen.cfg.canary_base())
    assert new.version == 2 and new.public != old.public
    assert {m.public for m in frozen.registry.watched("aws-ci-deploy-key")} == {old.public, new.public}
    assert "aws-ci-deploy-key" not in frozen.registry.due()
    clock.advance(timedelta(days=7, seconds=1))
    assert [m.public for m in frozen.registry.watched("aws-ci-deploy-key")] == [new.public]


def test_cron_rotation_schedule(frozen: Deployed) -> None:
    asset = frozen.registry.get("canary-url-breakglass")  # cron "0 3 1 * *"
    assert asset.next_rotation_at is not None
    assert (asset.next_rotation_at.day, asset.next_rotation_at.hour) == (1, 3)


def test_malformed_canary_file_names_file_and_line(workspace_dir: Path) -> None:
    from intelsec.config import Workspace

    (workspace_dir / "deception" / "canary-routes.yaml").write_text(
        "- service: payments\n  route: /ok\n- service: payments\n  route: no-slash\n")
    with pytest.raises(ConfigError, match=r"canary-routes.yaml:4: 1.route"):
        load_config(Workspace.load(workspace_dir))


def test_duplicate_asset_ids_refused(workspace_dir: Path) -> None:
    from intelsec.config import Workspace

    path = workspace_dir / "deception" / "canary-routes.yaml"
    path.write_text(path.read_text() + "- id: aws-ci-deploy-key\n  service: x\n  route: /y\n")
    with pytest.raises(ConfigError, match="duplicate asset id.*aws-ci-deploy-key"):
        load_config(Workspace.load(workspace_dir))


def test_cli_never_prints_secrets_without_reveal(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(workspace_dir)
    assert invoke(capsys, "deception", "deploy", "-w", w).code == 0
    status = invoke(capsys, "deception", "status", "-w", w, "--format", "json")
    assert status.code == 0
    rows = json.loads(status.out)["assets"]
    assert len(rows) >= 6 and {r["health"] for r in rows} == {"untested"}
    hidden = invoke(capsys, "deception", "show", "api-token-billing-export", "-w", w)
    shown = invoke(capsys, "deception", "show", "api-token-billing-export", "-w", w, "--reveal")
    token = json.loads(shown.out)["material"][0]["secret"]["token"]
    assert token.startswith("sk_live_")
    for out in (hidden.out + hidden.err, status.out, invoke(capsys, "deception", "deploy", "-w", w).out):
        assert token not in out
    bad = invoke(capsys, "deception", "show", "nope", "-w", w)
    assert bad.code == 1 and "no deception asset 'nope'" in bad.err


def test_changed_route_rotates_and_retired_asset_comes_back(frozen: Deployed) -> None:
    route = next(a for a in frozen.cfg.assets if a.id == "payments-v1-debug-vars")
    moved = route.model_copy(update={"extra": {**route.extra, "route": "/v1/debug/pprof"}})
    specs = [moved if a.id == route.id else a for a in frozen.cfg.assets]
    assert frozen.registry.deploy(specs, frozen.cfg.canary_base()).updated == [route.id]
    assert [m.public for m in frozen.registry.watched(route.id)] == ["GET /v1/debug/pprof", "GET /v1/debug/vars"]
    others = [a for a in specs if a.id != route.id]
    assert frozen.registry.deploy(others, frozen.cfg.canary_base()).retired == [route.id]
    assert frozen.registry.deploy(specs, frozen.cfg.canary_base()).updated == [route.id]
    assert frozen.registry.current(route.id).version == 3 and frozen.registry.get(route.id).status == "active"


def test_kind_change_is_refused(frozen: Deployed) -> None:
    specs = [a.model_copy(update={"kind": "api_token"}) if a.id == "aws-ci-deploy-key" else a
             for a in frozen.cfg.assets]
    with pytest.raises(ConfigError, match="aws-ci-deploy-key.*aws_key in the store"):
        frozen.registry.deploy(specs, frozen.cfg.canary_base())


def test_health_reports_overdue_rotation_and_stale_tests(frozen: Deployed) -> None:
    from intelsec.deception.health import status_rows

    clock = frozen.clock
    assert isinstance(clock, FrozenClock)
    frozen.registry.mark_test("aws-ci-deploy-key", True)
    rows = {r["id"]: r["health"] for r in status_rows(frozen.registry, timedelta(days=7))}
    assert rows["aws-ci-deploy-key"] == "ok" and rows["api-token-billing-export"] == "untested"
    clock.advance(timedelta(days=8))
    assert {r["id"]: r["health"] for r in status_rows(frozen.registry, timedelta(days=7))}[
        "aws-ci-deploy-key"] == "untested"
    clock.advance(timedelta(days=23))
    frozen.registry.mark_test("aws-ci-deploy-key", False)
    assert {r["id"]: r["health"] for r in status_rows(frozen.registry, timedelta(days=7))}[
        "aws-ci-deploy-key"] == "test-failed,rotation-due"


def test_material_is_sealed_in_the_store(frozen: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    from intelsec.deception.registry import Registry
    from intelsec.deception.tables import DeceptionMaterial

    token = frozen.registry.current("api-token-billing-export").secret["token"]
    with frozen.db.session() as s:
        stored = json.dumps([m.secret for m in s.query(DeceptionMaterial).all()])
    assert token not in stored and '"sealed": "v1.' in stored
    other = frozen.ws.state_dir.parent / "elsewhere"
    with pytest.raises(ConfigError, match="cannot be unsealed"):
        Registry(frozen.db, frozen.clock, other).current("api-token-billing-export")
    with pytest.raises(ConfigError, match="sealed"):
        Registry(frozen.db, frozen.clock).current("api-token-billing-export")
    key = (frozen.ws.state_dir / "deception" / "material.key").read_bytes()
    assert (frozen.ws.state_dir / "deception" / "material.key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("INTELSEC_DECEPTION_KEY", base64.b64encode(key).decode())
    assert Registry(frozen.db, frozen.clock, other).current("api-token-billing-export").secret["token"] == token
    monkeypatch.setenv("INTELSEC_DECEPTION_KEY", "short")
    with pytest.raises(ConfigError, match="32 bytes"):
        Registry(frozen.db, frozen.clock, other)
