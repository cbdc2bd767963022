"""`intelsec deception test`: trigger each asset for real, in test mode, and confirm the alert.

Each trigger carries a test token (an HMAC with the asset's key), so the resulting alert is marked
`test` and never counts as an incident, while travelling the same path as a real touch: HTTP
through the service (middleware, decoy server or nginx), the canary URL on the control plane, a
real PostgreSQL login read back from the server log, a CloudTrail record and a log line read by
the same scanners as production logs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from intelsec.alerts.service import AlertService
from intelsec.deception.beacons import TEST_HEADER
from intelsec.deception.client import BeaconClient
from intelsec.deception.honeytokens import make_test_token
from intelsec.deception.registry import AssetView, Material, Registry
from intelsec.store.models import Alert


@dataclass
class TestResult:
    asset: str
    kind: str
    via: str
    ok: bool
    alert_id: str | None = None
    seconds: float | None = None
    detail: str = ""


@dataclass
class Verifier:
    registry: Registry
    alerts: AlertService
    control_plane_url: str
    service_urls: dict[str, str] = field(default_factory=dict)
    dsn: str | None = None
    pg_log: Path | None = None
    timeout: float = 15.0
    is_known_honeytoken: Callable[[str], bool] | None = None

    def run(self, asset_ids: list[str] | None = None) -> list[TestResult]:
        assets = [a for a in self.registry.assets() if asset_ids is None or a.id in asset_ids]
        missing = set(asset_ids or []) - {a.id for a in assets}
        results = [TestResult(m, "?", "-", False, detail="no such active asset") for m in sorted(missing)]
        for asset in assets:
            started = self.registry.clock.now() - timedelta(seconds=1)
            t0 = time.monotonic()
            try:
                via = self._trigger(asset, self.registry.current(asset.id))
            except Exception as exc:  # report, never crash the whole run
                results.append(TestResult(asset.id, asset.kind, "-", False, detail=_reason(exc)))
                self.registry.mark_test(asset.id, False)
                continue
            if via.startswith("skipped"):
                results.append(TestResult(asset.id, asset.kind, "-", False, detail=via))
                continue
            alert_id = self._await_alert(asset.id, started)
            ok = alert_id is not None
            self.registry.mark_test(asset.id, ok)
            results.append(TestResult(asset.id, asset.kind, via, ok, alert_id, round(time.monotonic() - t0, 3),
                                      "" if ok else f"no test alert within {self.timeout:.0f}s"))
        return results

    def _token(self, m: Material) -> str:
        return make_test_token(m.key, m.asset_id, int(time.time()))

    def _trigger(self, asset: AssetView, m: Material) -> str:
        extra = asset.spec.get("extra", {})
        if asset.kind == "canary_route":
            base = self.service_urls.get(extra["service"])
            if base:
                httpx.request(extra["method"], base.rstrip("/") + extra["route"],
                              headers={TEST_HEADER: self._token(m)}, timeout=10)
                return "service"
            client = BeaconClient(self.control_plane_url)
            try:
                resp = client.send(asset.id, m.key, channel="test", path=extra["route"], method=extra["method"],
                                   test_token=self._token(m))
            finally:
                client.close()
            if resp.status_code != 202:
                raise RuntimeError(f"beacon endpoint answered {resp.status_code}")
            return "beacon"
        if asset.kind == "canary_url":
            url = self.control_plane_url.rstrip("/") + "/api/v1/beacons/u/" + m.public
            httpx.get(url, headers={TEST_HEADER: self._token(m)}, timeout=10)
            return "canary_url"
        if asset.kind == "honey_db_user":
            return self._honey_login(m)
        if asset.kind in ("aws_key", "api_token"):
            return self._log_use(asset, m)
        raise RuntimeError(f"no test for kind {asset.kind}")

    def _honey_login(self, m: Material) -> str:
        if not self.dsn or not self.pg_log:
            return "skipped: needs --dsn and --pg-log"
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        from intelsec.deception.pglog import PgLogWatcher
        from intelsec.deception.touches import raise_pg_attempts

        watcher = PgLogWatcher(self.pg_log, {m.public})
        watcher.skip_to_end()
        info = conninfo_to_dict(self.dsn.replace("postgresql+psycopg://", "postgresql://"))
        info.update(user=m.public, password=m.secret["password"], application_name="it:" + self._token(m)[:51],
                    connect_timeout=10)
        try:
            psycopg.connect(make_conninfo("", **info)).close()
            raise RuntimeError(f"honey role {m.public} could log in: run `deception honey-users sync`")
        except psycopg.OperationalError:
            pass  # refused, as it must be
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            attempts = watcher.poll().attempts
            if attempts:
                raise_pg_attempts(self.registry, self.alerts, attempts, time.time())
                return "pg_log"
            time.sleep(0.2)
        return "pg_log"

    def _log_use(self, asset: AssetView, m: Material) -> str:
        import json

        from intelsec.deception.logscan import scan
        from intelsec.deception.touches import raise_log_hits

        marker = f"intelsec-test:{self._token(m)}"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "test.log"
            if asset.kind == "aws_key":
                path = path.with_suffix(".json")
                path.write_text(json.dumps({"Records": [{
                    "eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity", "awsRegion": "us-east-1",
                    "sourceIPAddress": "127.0.0.1", "userAgent": marker,
                    "userIdentity": {"type": "IAMUser", "accessKeyId": m.public}}]}))
                stats = scan([path], {m.public: asset.id}, {})
            else:
                value = m.secret["token"]
                if self.is_known_honeytoken is not None and not self.is_known_honeytoken(value):
                    raise RuntimeError("token missing from the honeytoken fingerprint filter (DLP would miss it)")
                path.write_text(f"{marker} Authorization: Bearer {value}\n")
                stats = scan([path], {}, {value: asset.id})
        raise_log_hits(self.registry, self.alerts, stats.hits, time.time())
        return "cloudtrail" if asset.kind == "aws_key" else "log"

    def _await_alert(self, asset_id: str, since: datetime) -> str | None:
        deadline = time.monotonic() + self.timeout
        q = (select(Alert.id).where(Alert.entity == asset_id, Alert.test.is_(True), Alert.last_seen_at >= since)
             .order_by(Alert.last_seen_at.desc()).limit(1))
        while True:
            with self.registry.db.session() as s:
                found = s.scalars(q).first()
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
