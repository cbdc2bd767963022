"""Decisions through the workspace Rego policy: roll-out modes, exceptions with TTL, memoisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intelsec.clock import FrozenClock
from intelsec.config import Workspace
from intelsec.egress.decide import EgressDecider
from intelsec.egress.models import Flow
from intelsec.errors import ConfigError, PolicyError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def flow(ns: str, host: str | None = None, ip: str | None = None, port: int = 443) -> Flow:
    return Flow(src_ns=ns, dst_host=host, dst_ip=ip, dst_port=port, direction="egress")


def test_staging_blocks_prod_logs_and_blocks_high_risk(workspace_dir: Path) -> None:
    ws = Workspace.load(workspace_dir)
    staging = EgressDecider(ws, env="staging")
    prod = EgressDecider(ws, env="prod")
    assert staging.judge(flow("dev", "x.io"))[1].verdict == "block"
    v = prod.judge(flow("dev", "x.io"))[1]
    assert v.verdict == "log" and v.mode == "audit" and v.category == "unknown"
    paste = prod.judge(flow("dev", "a.pastebin.com"))[1]
    assert paste.verdict == "block" and "high-risk category paste-sites" in paste.reasons
    assert prod.judge(flow("dev", "torproject.org"))[1].verdict == "block"
    assert prod.judge(flow("dev", "wetransfer.com"))[1].verdict == "log"  # medium risk: audit in prod
    assert staging.judge(flow("dev", "pypi.org"))[1].verdict == "allow"  # approved category
    ok = staging.judge(flow("prod", "payments.vendors.com"))[1]
    assert ok.verdict == "allow" and ok.policy_digest == staging.digest


def test_in_cluster_and_reply_flows_are_counted_not_judged(workspace_dir: Path) -> None:
    d = EgressDecider(Workspace.load(workspace_dir), env="staging")
    assert d.judge(flow("dev", ip="10.2.3.4"))[1].verdict == "internal"
    assert d.judge(flow("dev", "api.default.svc.cluster.local"))[1].verdict == "internal"
    assert d.judge(Flow(src_ns="dev", dst_ip="8.8.8.8", internal=True))[1].verdict == "internal"
    assert d.judge(Flow(src_ns="dev", dst_ip="8.8.8.8", reply=True))[1].verdict == "ignored"
    assert d.judge(Flow(src_ns="dev", dst_ip="8.8.8.8", direction="ingress"))[1].verdict == "ignored"
    assert d.judge(flow("dev", ip="8.8.8.8"))[1].verdict == "block"
    assert d.evaluations == 1


def test_memoised_per_flow_shape(workspace_dir: Path) -> None:
    d = EgressDecider(Workspace.load(workspace_dir), env="prod")
    for _ in range(50):
        d.judge(flow("dev", "x.io"))
        d.judge(flow("web", "x.io"))
    assert d.evaluations == 2
    d.judge(flow("dev", "x.io", port=8443))
    assert d.evaluations == 3


def _exceptions(ws: Path, body: str) -> None:
    (ws / "egress" / "exceptions.yaml").write_text(body)


def test_exception_applies_until_expiry_then_alertable(workspace_dir: Path) -> None:
    _exceptions(
        workspace_dir,
        """
budget: {default: 1}
exceptions:
  - namespace: dev
    destination: files.partner.io
    ticket: SEC-42
    owner: alice@example.com
    expires: 2026-06-01T13:00:00Z
  - namespace: dev
    category: file-sharing
    ticket: SEC-43
    owner: bob@example.com
    expires: 2026-05-01
""",
    )
    clock = FrozenClock(NOW)
    d = EgressDecider(Workspace.load(workspace_dir), env="staging", clock=clock)
    assert [e.ticket for e in d.expired] == ["SEC-43"]  # expired before the run: not applied
    v = d.judge(flow("dev", "files.partner.io"))[1]
    assert v.verdict == "allow" and v.exception and v.exception.startswith("SEC-42")
    assert any("ticket SEC-42" in r for r in v.reasons)
    assert d.judge(flow("web", "files.partner.io"))[1].verdict == "block"  # other namespace
    assert d.judge(flow("dev", "wetransfer.com"))[1].verdict == "block"  # expired category exception
    digest = d.digest
    assert d.refresh() == []
    clock.advance(timedelta(hours=1))
    just_expired = d.refresh()
    assert [e.ticket for e in just_expired] == ["SEC-42"]
    assert d.digest != digest
    assert d.judge(flow("dev", "files.partner.io"))[1].verdict == "block"


def test_exception_expiring_during_a_long_stream_stops_applying(workspace_dir: Path) -> None:
    from collections.abc import Iterator

    from intelsec.egress.evaluate import Summary, run

    _exceptions(
        workspace_dir,
        "exceptions:\n  - namespace: dev\n    destination: files.partner.io\n    ticket: SEC-44\n"
        "    owner: o\n    expires: 2026-06-01T13:00:00Z\n",
    )
    clock = FrozenClock(NOW)
    d = EgressDecider(Workspace.load(workspace_dir), env="staging", clock=clock)

    def stream() -> Iterator[Flow]:  # like `hubble observe --follow`: time passes while flows arrive
        for i in range(20_000):
            if i == 10_000:
                clock.advance(timedelta(hours=2))
            yield flow("dev", "files.partner.io")

    summary = Summary(d.env, d.digest)
    run(stream(), d, summary)
    assert summary.verdicts["allow"] <= 10_000 + 4096 and summary.verdicts["block"] >= 10_000 - 4096
    assert [e.ticket for e in d.expired] == ["SEC-44"]


def test_unknown_environment_and_broken_policy(workspace_dir: Path) -> None:
    ws = Workspace.load(workspace_dir)
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        EgressDecider(ws, env="qa")
    (workspace_dir / "policies" / "egress.rego").write_text("package egress\n\ndecision := {\n")
    with pytest.raises(PolicyError, match="egress.rego"):
        EgressDecider(ws, env="prod")
    (workspace_dir / "policies" / "egress.rego").write_text("package egress\n\ndecision := {}\n")
    with pytest.raises(PolicyError, match="undefined or malformed"):
        EgressDecider(ws, env="prod").judge(flow("dev", "x.io"))


def test_sources_map_namespace_and_mode_overrides(workspace_dir: Path) -> None:
    enf = workspace_dir / "egress" / "enforcement.yaml"
    enf.write_text(
        enf.read_text()
        .replace("sources: []", "sources:\n  - cidr: 192.0.2.0/24\n    namespace: batch")
        .replace("    namespaces: {}", "    namespaces:\n      batch: enforce")
    )
    d = EgressDecider(Workspace.load(workspace_dir), env="prod")
    ns, v = d.judge(Flow(src_ip="192.0.2.10", dst_host="x.io", dst_port=443))
    assert ns == "batch" and v.verdict == "block"
    ns, v = d.judge(Flow(src_ip="198.51.100.1", dst_host="x.io", dst_port=443))
    assert ns == "unknown" and v.verdict == "log"
