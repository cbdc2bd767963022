"""Turn a touch on an asset into a stored touch and an alert (what every channel calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intelsec.alerts.models import AlertIn, Severity
from intelsec.alerts.service import AlertService
from intelsec.deception.registry import Registry

RULE = "deception_touch"
SOURCE = "deception"


@dataclass
class Touch:
    asset_id: str
    channel: str  # middleware, decoy, nginx, canary_url, pg_log, cloudtrail, log
    source_ip: str | None = None
    user_agent: str | None = None
    path: str | None = None
    method: str | None = None
    identity: str | None = None
    detail: str | None = None
    test: bool = False
    test_id: str | None = None


def raise_touch(registry: Registry, alerts: AlertService, touch: Touch) -> str:
    """Record the touch and raise (or de-duplicate into) an alert; returns the alert id.

    Alerts de-duplicate per asset and source, so a scanner hammering one decoy is one alert with a
    count; test touches carry their test id so each test is confirmed individually.
    """
    asset = registry.get(touch.asset_id)
    evidence = {k: v for k, v in {
        "asset": asset.id, "kind": asset.kind, "placement": asset.placement, "owner": asset.owner,
        "channel": touch.channel, "source_ip": touch.source_ip, "user_agent": (touch.user_agent or "")[:256] or None,
        "path": (touch.path or "")[:512] or None, "method": touch.method, "identity": touch.identity,
        "detail": touch.detail, "test_id": touch.test_id,
    }.items() if v}
    who = touch.source_ip or touch.identity or "unknown source"
    dedup = f"deception:{asset.id}:{who}" + (f":test:{touch.test_id}" if touch.test else "")
    result = alerts.raise_alert(AlertIn(
        rule=RULE, source=SOURCE, severity=Severity(asset.severity), entity=asset.id,
        summary=f"{'[test] ' if touch.test else ''}deceptive {asset.kind} {asset.id} touched by {who} "
                f"via {touch.channel}",
        evidence=evidence, dedup_key=dedup[:255], test=touch.test,
    ))
    registry.record_touch(asset.id, touch.channel, touch.test, result.alert.id, source_ip=touch.source_ip,
                          user_agent=touch.user_agent, path=touch.path, identity=touch.identity)
    return result.alert.id


def raise_pg_attempts(registry: Registry, alerts: AlertService, attempts: list[Any], now: float) -> list[str]:
    """Alert on honey-role login attempts found in a PostgreSQL log (test logins are marked)."""
    from intelsec.deception.honeytokens import check_test_token

    roles: dict[str, tuple[str, list[str]]] = {}
    for m in registry.watched(kind="honey_db_user"):
        roles.setdefault(m.public, (m.asset_id, []))[1].append(m.key)
    out = []
    for a in attempts:
        if a.role not in roles:
            continue
        asset_id, keys = roles[a.role]
        app = a.application_name or ""
        test = app.startswith("it:") and check_test_token(keys, asset_id, app[3:], now)
        out.append(raise_touch(registry, alerts, Touch(
            asset_id=asset_id, channel="pg_log", source_ip=a.remote_host, identity=f"role {a.role}",
            path=f"database {a.database}" if a.database else None,
            detail=f"{a.outcome}: {a.message}", test=test, test_id=app[3:20] if test else None)))
    return out


def raise_log_hits(registry: Registry, alerts: AlertService, hits: list[Any], now: float) -> list[str]:
    """Alert on honeytokens found in logs; a hit carrying a valid test token is a test alert."""
    from intelsec.deception.honeytokens import check_test_token

    keys: dict[str, list[str]] = {}
    for m in registry.watched():
        keys.setdefault(m.asset_id, []).append(m.key)
    out = []
    for h in hits:
        test = bool(h.test_token) and check_test_token(keys.get(h.asset_id, []), h.asset_id, h.test_token, now)
        out.append(raise_touch(registry, alerts, Touch(
            asset_id=h.asset_id, channel=h.channel, source_ip=h.source_ip, user_agent=h.user_agent,
            identity=h.identity, path=h.action, detail=f"{h.file}:{h.line}" + (f" ({h.region})" if h.region else ""),
            test=test, test_id=h.test_token[:24] if test and h.test_token else None)))
    return out
