"""Beacon endpoint (`POST /api/v1/beacons`), canary URL hits, and deception metrics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import ValidationError

from intelsec.clock import Clock
from intelsec.deception import beacons
from intelsec.deception.honeytokens import check_test_token
from intelsec.deception.noise import noise
from intelsec.deception.pglog import PgLogWatcher, state_file_for
from intelsec.deception.registry import Material, Registry
from intelsec.deception.schemas import ServiceSettings
from intelsec.deception.touches import Touch, raise_pg_attempts, raise_touch
from intelsec.errors import ConfigError
from intelsec.server.context import AppContext, get_context

router = APIRouter()
log = logging.getLogger("intelsec.deception")
Ctx = Annotated[AppContext, Depends(get_context)]
NOT_FOUND = {"detail": "Not Found"}  # what the app answers for any unknown path


class KeyCache:
    """Every watched key, loaded in one query and cached briefly, so forged or random-asset beacon
    floods never reach the database.

    Times come from the injected clock. A failed verification may reload at most once a second,
    so a key rotated a moment ago is accepted without letting floods through to the store.
    """

    def __init__(self, registry: Registry, clock: Clock, ttl: float = 5.0) -> None:
        self.registry, self.clock, self.ttl = registry, clock, ttl
        self._keys: dict[str, list[str]] = {}
        self._urls: dict[str, list[Material]] = {}  # canary URL token -> its material
        self._loaded = float("-inf")
        self._lock = threading.Lock()

    def _load(self, refresh: bool) -> None:
        now = self.clock.now().timestamp()
        with self._lock:
            if not 0 <= now - self._loaded < (1.0 if refresh else self.ttl):
                keys: dict[str, list[str]] = {}
                urls: dict[str, list[Material]] = {}
                for m in self.registry.watched():
                    keys.setdefault(m.asset_id, []).append(m.key)
                    if m.kind == "canary_url":
                        urls.setdefault(m.public, []).append(m)
                self._keys, self._urls, self._loaded = keys, urls, now

    def keys(self, asset_id: str, refresh: bool = False) -> list[str]:
        self._load(refresh)
        return self._keys.get(asset_id, [])

    def canary_url(self, token: str) -> list[Material]:
        """Material of the canary URL `token`, so random-token floods never reach the database either."""
        self._load(False)
        if token not in self._urls:
            self._load(True)
        return self._urls.get(token, [])


class DeceptionState:
    def __init__(self, ctx: AppContext) -> None:
        self.registry = Registry(ctx.db, ctx.clock, ctx.workspace.state_dir)
        self.keys = KeyCache(self.registry, ctx.clock)
        self.limiter = beacons.RateLimiter()
        # and per asset whatever the source, so spoofed or rotating sources cannot open an alert each
        self.asset_limiter = beacons.RateLimiter(per_minute=20, burst=20)
        self.replays = beacons.ReplayGuard()
        reg: CollectorRegistry = ctx.extras["registry"]
        self.results = Counter("intelsec_deception_beacons", "Beacons received by result "
                               "(alerted, limited, replayed, bad_signature, unknown_asset, stale, malformed)",
                               ["result"], registry=reg)
        reg.register(DeceptionCollector(self.registry))
        self.pg_bad_lines = Counter("intelsec_deception_pg_log_bad_lines", "Unreadable PostgreSQL log lines skipped",
                                    registry=reg)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []


class DeceptionCollector(Collector):
    """Hits, false-positive rate and MTTA per asset, read from the store at scrape time."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        hits = GaugeMetricFamily("intelsec_deception_hits", "Touches counted per asset (all time)",
                                 labels=["asset", "kind"])
        fp_rate = GaugeMetricFamily("intelsec_deception_fp_rate", "False positives / triaged alerts, last 7 days",
                                    labels=["asset"])
        fps = GaugeMetricFamily("intelsec_deception_false_positives_week", "False positives in the last 7 days",
                                labels=["asset"])
        mtta = GaugeMetricFamily("intelsec_deception_mtta_seconds", "Mean time to acknowledge, last 7 days",
                                 labels=["asset"])
        try:
            assets = self.registry.assets()
            stats = noise(self.registry)
            for a in assets:
                hits.add_metric([a.id, a.kind], a.touch_count)
                n = stats.get(a.id)
                if n is None:
                    continue
                fps.add_metric([a.id], n.fp)
                if n.fp_rate is not None:
                    fp_rate.add_metric([a.id], n.fp_rate)
                if n.mtta_seconds is not None:
                    mtta.add_metric([a.id], n.mtta_seconds)
        except Exception as exc:  # a scrape must not fail because the database blipped
            log.warning("deception metrics unavailable: %s", type(exc).__name__)
        yield from (hits, fp_rate, fps, mtta)


def _pg_watch(ctx: AppContext, state: DeceptionState, settings: ServiceSettings, stop: threading.Event) -> None:
    """Tail the configured PostgreSQL logs and alert on honey-role attempts until stopped."""
    watchers = [PgLogWatcher(ctx.workspace.path(p), set(), state_file=state_file_for(ctx.workspace.state_dir,
                                                                                     ctx.workspace.path(p)))
                for p in settings.watch_pg_logs]
    while not stop.is_set():
        try:
            roles = {m.public for m in state.registry.watched(kind="honey_db_user")}
            for w in watchers:
                w.roles = roles
                stats = w.poll()
                if stats.bad_lines:
                    state.pg_bad_lines.inc(stats.bad_lines)
                raise_pg_attempts(state.registry, ctx.alerts, stats.attempts, ctx.clock.now().timestamp())
        except Exception as exc:  # keep watching; the next poll retries
            log.warning("pg log watch failed: %s", type(exc).__name__)
        stop.wait(settings.poll_seconds)


def on_startup(ctx: AppContext) -> None:
    state = DeceptionState(ctx)
    ctx.extras["deception"] = state
    try:
        settings = ServiceSettings.model_validate(ctx.workspace.config.deception)
    except ValidationError as exc:
        raise ConfigError(f"intelsec.yaml deception: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    if settings.watch_pg_logs:
        thread = threading.Thread(target=_pg_watch, args=(ctx, state, settings, state.stop),
                                  name="deception-pg-log", daemon=True)
        thread.start()
        state.threads.append(thread)

    def card(c: AppContext) -> list[tuple[str, Any]]:
        assets = state.registry.assets()
        return [("assets live", len(assets)), ("kinds", len({a.kind for a in assets})),
                ("touches", sum(a.touch_count for a in assets))]

    ctx.extras["console.deception"] = card


def on_shutdown(ctx: AppContext) -> None:
    state = ctx.extras.get("deception")
    if isinstance(state, DeceptionState):
        state.stop.set()
        for t in state.threads:
            t.join(timeout=10)


def _state(ctx: AppContext) -> DeceptionState:
    state = ctx.extras.get("deception")
    if state is None:  # app used without its lifespan (e.g. some test clients)
        on_startup(ctx)
        state = ctx.extras["deception"]
    return state  # type: ignore[no-any-return]


def _touch(ctx: AppContext, state: DeceptionState, touch: Touch) -> str:
    source = touch.source_ip or "unknown"
    now = ctx.clock.now().timestamp()
    if not touch.test and not (state.limiter.allow(touch.asset_id, source, now)
                               and state.asset_limiter.allow(touch.asset_id, "*", now)):
        state.registry.count_touch(touch.asset_id)
        state.results.labels("limited").inc()
        return "limited"
    alert_id = raise_touch(state.registry, ctx.alerts, touch)
    state.results.labels("alerted").inc()
    return alert_id


@router.post("/api/v1/beacons", status_code=202)
async def post_beacon(request: Request, ctx: Ctx) -> JSONResponse:
    """Receive a signed touch from a middleware, decoy server or nginx beacon."""
    state = _state(ctx)
    body = await request.body()
    try:
        if len(body) > 16384:
            raise beacons.BadBeacon("malformed")
        beacon = beacons.parse(body)
        signature = request.headers.get(beacons.SIGNATURE_HEADER)
        keys = state.keys.keys(beacon.asset)
        try:
            beacons.verify(keys, body, signature, beacon, ctx.clock.now().timestamp())
        except beacons.BadBeacon as exc:
            if exc.reason not in ("bad_signature", "unknown_asset"):
                raise
            keys = state.keys.keys(beacon.asset, refresh=True)  # maybe rotated a moment ago
            beacons.verify(keys, body, signature, beacon, ctx.clock.now().timestamp())
    except beacons.BadBeacon as exc:
        state.results.labels(exc.reason).inc()
        status = 400 if exc.reason == "malformed" else 401
        return JSONResponse({"detail": "bad beacon" if status == 400 else "invalid signature"}, status_code=status)
    if not state.replays.first_time(str(signature), ctx.clock.now().timestamp()):
        state.results.labels("replayed").inc()  # a sender's retry lands here too: accepted, not counted twice
        return JSONResponse({"status": "duplicate"}, status_code=202)
    test = check_test_token(keys, beacon.asset, beacon.test_token, ctx.clock.now().timestamp())
    touch = Touch(asset_id=beacon.asset, channel=beacon.channel, source_ip=beacon.source_ip or
                  (request.client.host if request.client else None), user_agent=beacon.user_agent,
                  path=beacon.path, method=beacon.method, identity=beacon.identity, test=test,
                  test_id=(beacon.test_token or "")[:24] if test else None)  # per token: reuse collapses
    outcome = await _run(ctx, state, touch)
    return JSONResponse({"status": "limited" if outcome == "limited" else "alerted",
                         **({"alert_id": outcome} if outcome != "limited" else {})}, status_code=202)


async def _run(ctx: AppContext, state: DeceptionState, touch: Touch) -> str:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_touch, ctx, state, touch)


@router.get("/api/v1/beacons/u/{token}")
async def canary_url_hit(token: str, request: Request, ctx: Ctx) -> JSONResponse:
    """A canary URL was opened. Answers like any unknown path, whatever happened."""
    state = _state(ctx)
    from starlette.concurrency import run_in_threadpool

    found = await run_in_threadpool(state.keys.canary_url, token)
    if found:
        material = found[0]
        test_header = request.headers.get(beacons.TEST_HEADER)
        test = check_test_token([m.key for m in found], material.asset_id, test_header, ctx.clock.now().timestamp())
        await _run(ctx, state, Touch(
            asset_id=material.asset_id, channel="canary_url",
            source_ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"), path=f"canary URL v{material.version}",
            method=request.method, detail=_referer(request),
            test=test, test_id=test_header.partition(".")[0] + ":" + test_header[-12:] if test and test_header
            else None))
    else:
        state.results.labels("unknown_asset").inc()
    return JSONResponse(NOT_FOUND, status_code=404)


def _referer(request: Request) -> str | None:
    ref = request.headers.get("referer")
    return f"referer {ref[:200]}" if ref else None
