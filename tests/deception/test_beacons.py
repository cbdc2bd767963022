"""Beacon endpoint on a real control plane: HMAC per asset, 401 counted, rate limit, canary URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from intelsec.deception.beacons import SIGNATURE_HEADER, TEST_HEADER, RateLimiter, ReplayGuard, encode
from intelsec.deception.client import BeaconClient
from intelsec.deception.honeytokens import make_test_token
from intelsec.server.app import create_app
from intelsec.store.models import Alert
from tests.deception.conftest import Deployed
from tests.deception.helpers import serve

ROUTE = "payments-v2-export-settlements"


@pytest.fixture
def plane(deployed: Deployed) -> Iterator[str]:
    with serve(create_app(deployed.ws, deployed.db, run_dispatcher=False)) as url:
        yield url


def _alerts(d: Deployed, **where: object) -> list[Alert]:
    with d.db.session() as s:
        return [a for a in s.query(Alert).all() if all(getattr(a, k) == v for k, v in where.items())]


def test_signed_beacon_raises_alert_within_a_second(deployed: Deployed, plane: str) -> None:
    key = deployed.registry.current(ROUTE).key
    client = BeaconClient(plane)
    start = time.monotonic()
    resp = client.send(ROUTE, key, source_ip="203.0.113.7", path="/v2/export/settlements", method="GET",
                       user_agent="curl/8.0", identity="spiffe://example.com/ns/prod/sa/scanner")
    assert resp.status_code == 202 and resp.json()["status"] == "alerted"
    alerts = _alerts(deployed, entity=ROUTE)
    assert time.monotonic() - start < 5  # generous; the alert is written before the response
    assert len(alerts) == 1 and alerts[0].test is False and alerts[0].source == "deception"
    ev = alerts[0].evidence
    assert ev["source_ip"] == "203.0.113.7" and ev["identity"].startswith("spiffe://")
    assert key not in str(ev)
    assert deployed.registry.get(ROUTE).touch_count == 1
    assert 'intelsec_deception_hits{asset="payments-v2-export-settlements"' in httpx.get(plane + "/metrics").text


def test_bad_signature_is_401_counted_and_never_alerts(deployed: Deployed, plane: str) -> None:
    good = deployed.registry.current(ROUTE).key
    forged = BeaconClient(plane)
    for _ in range(20):
        assert forged.send(ROUTE, "0" * 64, source_ip="198.51.100.1").status_code == 401
    body, sig = encode(good, {"asset": ROUTE, "source_ip": "198.51.100.1"})
    tampered = httpx.post(plane + "/api/v1/beacons", content=body + b" ", headers={SIGNATURE_HEADER: sig})
    assert tampered.status_code == 401
    assert httpx.post(plane + "/api/v1/beacons", content=body).status_code == 401  # unsigned
    for i in range(5):
        assert forged.send(f"no-such-asset-{i}", good).status_code == 401
    stale, sig = encode(good, {"asset": ROUTE, "ts": int(time.time()) - 3600})
    assert httpx.post(plane + "/api/v1/beacons", content=stale, headers={SIGNATURE_HEADER: sig}).status_code == 401
    assert httpx.post(plane + "/api/v1/beacons", content=b"{not json").status_code == 400
    assert _alerts(deployed) == []
    metrics = httpx.get(plane + "/metrics").text
    assert 'intelsec_deception_beacons_total{result="bad_signature"} 22.0' in metrics
    assert 'intelsec_deception_beacons_total{result="stale"} 1.0' in metrics
    assert 'intelsec_deception_beacons_total{result="unknown_asset"} 5.0' in metrics


def test_flood_from_one_source_is_limited_but_counted(deployed: Deployed, plane: str) -> None:
    key = deployed.registry.current(ROUTE).key
    client = BeaconClient(plane)
    statuses = [client.send(ROUTE, key, source_ip="192.0.2.50").json()["status"] for _ in range(30)]
    assert statuses.count("alerted") == 3 and statuses.count("limited") == 27
    assert client.send(ROUTE, key, source_ip="192.0.2.51").json()["status"] == "alerted"
    alerts = _alerts(deployed, entity=ROUTE)
    assert len(alerts) == 2  # one per source; repeats collapse into the count
    assert sorted(a.count for a in alerts) == [1, 3]
    assert deployed.registry.get(ROUTE).touch_count == 31


def test_test_token_marks_test_alert_and_forged_token_does_not(deployed: Deployed, plane: str) -> None:
    key = deployed.registry.current(ROUTE).key
    client = BeaconClient(plane)
    now = int(time.time())
    for ip, signer in (("10.0.0.9", key), ("10.0.0.8", "f" * 64)):
        assert client.send(ROUTE, key, source_ip=ip, test_token=make_test_token(signer, ROUTE, now)).status_code == 202
    by_ip = {a.evidence["source_ip"]: a for a in _alerts(deployed, entity=ROUTE)}
    assert by_ip["10.0.0.9"].test is True and by_ip["10.0.0.8"].test is False


def test_canary_url_hit_alerts_and_looks_like_any_404(deployed: Deployed, plane: str) -> None:
    m = deployed.registry.current("canary-url-breakglass")
    url = m.secret["url"].replace("http://127.0.0.1:8080", plane)
    hit = httpx.get(url, headers={"user-agent": "Mozilla/5.0"})
    miss = httpx.get(plane + "/api/v1/beacons/u/not-a-token")
    nowhere = httpx.get(plane + "/no/such/page")
    assert hit.status_code == miss.status_code == nowhere.status_code == 404
    assert hit.json() == miss.json() == nowhere.json()
    alerts = _alerts(deployed, entity="canary-url-breakglass")
    assert len(alerts) == 1 and alerts[0].evidence["user_agent"] == "Mozilla/5.0"
    assert m.public not in alerts[0].summary and m.public not in str(alerts[0].evidence)
    assert alerts[0].evidence["path"] == "canary URL v1"
    ts = int(time.time())
    httpx.get(url, headers={TEST_HEADER: make_test_token(m.key, m.asset_id, ts)})
    assert any(a.test for a in _alerts(deployed, entity="canary-url-breakglass"))


def test_rate_limiter_refills_over_time() -> None:
    rl = RateLimiter(per_minute=6, burst=2)
    assert [rl.allow("a", "s", 0.0) for _ in range(3)] == [True, True, False]
    assert rl.allow("a", "other", 0.0)
    assert rl.allow("a", "s", 10.0) and not rl.allow("a", "s", 10.0)


def test_non_ascii_signature_or_test_token_cannot_suppress_the_alert(deployed: Deployed, plane: str) -> None:
    """Non-ASCII bytes or a huge timestamp once made the check raise (500, touch lost): now a plain touch."""
    m = deployed.registry.current("canary-url-breakglass")
    junk = f"{int(time.time())}.".encode() + b"\xff" * 40
    url = m.secret["url"].replace("http://127.0.0.1:8080", plane)
    for header in (junk, b"9" * 400 + b"." + b"a" * 40):  # non-ASCII MAC, timestamp too large for a float
        assert httpx.get(url, headers={TEST_HEADER: header}).status_code == 404
    alerts = _alerts(deployed, entity="canary-url-breakglass")
    assert len(alerts) == 1 and alerts[0].test is False and alerts[0].count == 2
    key = deployed.registry.current(ROUTE).key
    body, _ = encode(key, {"asset": ROUTE, "test_token": junk.decode("latin-1")})
    forged = httpx.post(plane + "/api/v1/beacons", content=body, headers={SIGNATURE_HEADER: b"sha256=\xff"})
    assert forged.status_code == 401
    resp = BeaconClient(plane).send(ROUTE, key, source_ip="192.0.2.9", test_token=junk.decode("latin-1"))
    assert resp.status_code == 202 and _alerts(deployed, entity=ROUTE)[0].test is False


def test_replayed_beacon_is_neither_counted_nor_alerted_again(deployed: Deployed, plane: str) -> None:
    key = deployed.registry.current(ROUTE).key
    body, sig = encode(key, {"asset": ROUTE, "source_ip": "203.0.113.70"})
    first = httpx.post(plane + "/api/v1/beacons", content=body, headers={SIGNATURE_HEADER: sig})
    again = [httpx.post(plane + "/api/v1/beacons", content=body, headers={SIGNATURE_HEADER: sig}) for _ in range(3)]
    assert first.json()["status"] == "alerted"
    assert [r.status_code for r in again] == [202] * 3 and {r.json()["status"] for r in again} == {"duplicate"}
    assert deployed.registry.get(ROUTE).touch_count == 1
    assert [a.count for a in _alerts(deployed, entity=ROUTE)] == [1]
    assert 'intelsec_deception_beacons_total{result="replayed"} 3.0' in httpx.get(plane + "/metrics").text


def test_replay_guard_forgets_signatures_once_they_are_stale() -> None:
    guard = ReplayGuard(window=600)
    assert guard.first_time("sha256=a", 0.0) and not guard.first_time("sha256=a", 599.0)
    assert guard.first_time("sha256=b", 700.0) and guard.first_time("sha256=a", 700.0)


def test_random_canary_url_tokens_do_not_reach_the_store_each_time(deployed: Deployed) -> None:
    from datetime import timedelta

    from intelsec.clock import FrozenClock
    from intelsec.server.routes.deception import KeyCache

    token = deployed.registry.current("canary-url-breakglass").public
    calls = []
    real = deployed.registry.watched

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real()

    deployed.registry.watched = counting  # type: ignore[method-assign]
    clock = FrozenClock()
    cache = KeyCache(deployed.registry, clock)
    assert [m.asset_id for m in cache.canary_url(token)] == ["canary-url-breakglass"]
    assert all(cache.canary_url(f"random-{i}") == [] for i in range(200))
    assert len(calls) == 1  # one load; misses reload at most once a second
    clock.advance(timedelta(seconds=1.5))
    assert cache.canary_url("random-x") == [] and len(calls) == 2


def test_reused_test_token_collapses_into_one_test_alert(deployed: Deployed, plane: str) -> None:
    """Test touches skip the rate limit, so a test token seen in transit must not open one alert per request."""
    key = deployed.registry.current(ROUTE).key
    token = make_test_token(key, ROUTE, int(time.time()))
    client = BeaconClient(plane)
    for _ in range(10):
        assert client.send(ROUTE, key, source_ip="198.51.100.77", test_token=token).status_code == 202
    alerts = _alerts(deployed, entity=ROUTE)
    assert len(alerts) == 1 and alerts[0].test and alerts[0].count == 10


def test_many_sources_are_capped_per_asset_but_all_counted(deployed: Deployed, plane: str) -> None:
    key = deployed.registry.current(ROUTE).key
    client = BeaconClient(plane)
    statuses = [client.send(ROUTE, key, source_ip=f"2001:db8::{i:x}").json()["status"] for i in range(40)]
    assert statuses.count("alerted") == 20 and statuses.count("limited") == 20
    assert len(_alerts(deployed, entity=ROUTE)) == 20
    assert deployed.registry.get(ROUTE).touch_count == 40


def test_oversized_request_fields_are_clipped_not_a_reason_to_drop_the_touch(deployed: Deployed, plane: str) -> None:
    """Senders forward what the client sent (X-Forwarded-For, X-Spiffe-Id...): a long value is clipped."""
    key = deployed.registry.current(ROUTE).key
    resp = BeaconClient(plane).send(ROUTE, key, source_ip="203.0.113.5" + " " * 100, identity="x" * 900,
                                    user_agent="u" * 5000, method="M" * 40)
    assert resp.status_code == 202 and resp.json()["status"] == "alerted"
    ev = _alerts(deployed, entity=ROUTE)[0].evidence
    assert len(ev["identity"]) == 512 and ev["source_ip"].startswith("203.0.113.5")
