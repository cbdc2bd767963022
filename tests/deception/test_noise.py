"""Noise budget, MTTA per asset, metrics and rotation through the beacon endpoint, on a frozen clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from intelsec.clock import FrozenClock
from intelsec.deception.beacons import SIGNATURE_HEADER, encode
from intelsec.deception.noise import BUDGET_RULE, check_budgets, noise, triage
from intelsec.deception.touches import Touch, raise_touch
from intelsec.server.app import create_app
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed
from tests.deception.helpers import invoke

ASSET = "aws-ci-deploy-key"


def _touch(d: Deployed, ip: str, test: bool = False, asset: str = ASSET) -> str:
    return raise_touch(d.registry, d.alerts, Touch(asset_id=asset, channel="cloudtrail", source_ip=ip, test=test,
                                                   test_id="t" if test else None))


def _budget_alerts(d: Deployed) -> list[Alert]:
    with d.db.session() as s:
        return list(s.query(Alert).filter(Alert.rule == BUDGET_RULE).all())


def test_weekly_fp_budget_alerts_once_and_resets(frozen: Deployed) -> None:
    clock = frozen.clock
    assert isinstance(clock, FrozenClock)
    ids = [_touch(frozen, f"10.0.0.{i}") for i in range(4)]
    _touch(frozen, "10.0.0.99", test=True)
    assert triage(frozen.registry, frozen.alerts, ids[0], "tp")[1] is False
    assert triage(frozen.registry, frozen.alerts, ids[1], "fp")[1] is False  # 1 fp = budget
    assert _budget_alerts(frozen) == []
    assert triage(frozen.registry, frozen.alerts, ids[2], "fp")[1] is True
    assert triage(frozen.registry, frozen.alerts, ids[3], "fp")[1] is True
    budget = _budget_alerts(frozen)
    assert len(budget) == 1 and budget[0].count == 2 and budget[0].entity == ASSET  # one alert per asset-week
    n = noise(frozen.registry)[ASSET]
    assert (n.alerts, n.tp, n.fp, n.fp_rate) == (4, 1, 3, 0.75)  # the test alert does not count
    clock.advance(timedelta(days=8))
    assert noise(frozen.registry)[ASSET].fp == 0 and check_budgets(frozen.registry, frozen.alerts) == []
    with pytest.raises(Exception, match="tp.*fp"):
        triage(frozen.registry, frozen.alerts, ids[0], "maybe")


def test_mtta_per_asset_excludes_tests(frozen: Deployed) -> None:
    clock = frozen.clock
    assert isinstance(clock, FrozenClock)
    a = _touch(frozen, "192.0.2.1")
    b = _touch(frozen, "192.0.2.1", asset="api-token-billing-export")
    t = _touch(frozen, "192.0.2.2", test=True)
    clock.advance(300)
    frozen.alerts.ack(a)
    clock.advance(300)
    frozen.alerts.ack(b)
    frozen.alerts.ack(t)
    stats = noise(frozen.registry)
    assert stats[ASSET].mtta_seconds == 300 and stats["api-token-billing-export"].mtta_seconds == 600
    assert stats["canary-url-breakglass"].mtta_seconds is None


def test_metrics_expose_hits_fp_rate_and_mtta(frozen: Deployed) -> None:
    clock = frozen.clock
    assert isinstance(clock, FrozenClock)
    a = _touch(frozen, "192.0.2.1")
    clock.advance(120)
    frozen.alerts.ack(a)
    triage(frozen.registry, frozen.alerts, a, "fp")
    with TestClient(create_app(frozen.ws, frozen.db, clock=clock, run_dispatcher=False)) as client:
        text = client.get("/metrics").text
        assert f'intelsec_deception_hits{{asset="{ASSET}",kind="aws_key"}} 1.0' in text
        assert f'intelsec_deception_fp_rate{{asset="{ASSET}"}} 1.0' in text
        assert f'intelsec_deception_mtta_seconds{{asset="{ASSET}"}} 120.0' in text
        assert f'intelsec_deception_false_positives_week{{asset="{ASSET}"}} 1.0' in text
        assert "assets live" in client.get("/").text


def test_rotated_key_accepted_old_key_watched_only_for_grace(frozen: Deployed) -> None:
    clock = frozen.clock
    assert isinstance(clock, FrozenClock)
    route = "payments-v2-export-settlements"

    def post(client: TestClient, key: str, ip: str) -> int:
        body, sig = encode(key, {"asset": route, "ts": int(clock.now().timestamp()), "source_ip": ip})
        return client.post("/api/v1/beacons", content=body, headers={SIGNATURE_HEADER: sig}).status_code

    old = frozen.registry.current(route).key
    with TestClient(create_app(frozen.ws, frozen.db, clock=clock, run_dispatcher=False)) as client:
        assert post(client, old, "10.1.0.1") == 202
        clock.advance(timedelta(days=30, seconds=1))
        new = frozen.registry.rotate(route, frozen.cfg.canary_base()).key
        clock.advance(2)
        assert post(client, new, "10.1.0.2") == 202   # accepted right after rotation
        assert post(client, old, "10.1.0.3") == 202   # still watched during the 7d grace
        clock.advance(timedelta(days=7, seconds=10))
        assert post(client, old, "10.1.0.4") == 401   # grace over
        assert post(client, new, "10.1.0.5") == 202


def test_cli_triage_and_budget_exit_codes(deployed: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(deployed.ws.root)
    ids = [_touch(deployed, f"10.2.0.{i}") for i in range(2)]
    assert invoke(capsys, "deception", "triage", ids[0][:10], "fp", "-w", w).code == 0
    assert invoke(capsys, "deception", "budget", "-w", w).code == 0
    over = invoke(capsys, "deception", "triage", ids[1], "fp", "-w", w)
    assert over.code == 1 and "over its noise budget" in " ".join(over.err.split())
    assert invoke(capsys, "deception", "budget", "-w", w).code == 1
    status = invoke(capsys, "deception", "status", "-f", "json", "-w", w)
    assert '"health": "untested,over-budget"' in status.out
