"""Validation API, console card, metrics, and the optional in-process scheduler for due scenarios."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from intelsec.errors import IntelsecError
from intelsec.server.context import AppContext, get_context

log = logging.getLogger(__name__)
router = APIRouter()
Ctx = Annotated[AppContext, Depends(get_context)]


def _runner(ctx: AppContext) -> Any:
    from intelsec.validation.runner import Runner

    return Runner(ctx.workspace, ctx.db, ctx.alerts, clock=ctx.clock)


@router.get("/api/v1/validation/scenarios")
def scenarios(ctx: Ctx) -> dict[str, Any]:
    runner = _runner(ctx)
    last = runner.last_runs()
    due = {sid for sid, _ in runner.due()}
    return {"scenarios": [{"id": sid, **sc.model_dump(), "last_run": last.get(sid), "due": sid in due}
                          for sid, sc in runner.scenarios()]}


@router.get("/api/v1/validation/runs")
def runs(ctx: Ctx, limit: int = 50) -> dict[str, Any]:
    from intelsec.store.runs import recent_runs

    rows = recent_runs(ctx.db, "validation", limit=min(max(limit, 1), 1000))
    return {"runs": [{"id": r.id, "status": r.status, "started_at": r.started_at, "finished_at": r.finished_at,
                      "summary": r.summary} for r in rows]}


@router.post("/api/v1/validation/run")
def run(request: Request, ctx: Ctx, body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    """Run named scenarios (or the due ones with {"due": true}); needs a token with scope `validate`."""
    ctx.authorise(request, "validate")
    body = body or {}
    runner = _runner(ctx)
    try:
        picked = runner.due() if body.get("due") else runner.select([str(n) for n in body.get("scenarios") or []])
    except IntelsecError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"runs": [runner.run(sid, sc).as_dict() for sid, sc in picked]}


@router.post("/api/v1/validation/kill")
def kill(request: Request, ctx: Ctx, body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    """Engage the kill switch ({"reason": ...}) or release it ({"off": true}); scope `validate`."""
    from intelsec.validation import killswitch

    caller = ctx.authorise(request, "validate")
    body = body or {}
    if body.get("off"):
        killswitch.release(ctx.workspace.state_dir)
    else:
        killswitch.engage(ctx.workspace.state_dir, str(body.get("reason") or "stopped via API")[:500], caller,
                          ctx.clock.now())
    return {"kill_switch": vars(killswitch.status(ctx.workspace.state_dir))}


class _Collector(Collector):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        from intelsec.validation import killswitch
        from intelsec.validation.stats import run_stats

        runs_g = GaugeMetricFamily("intelsec_validation_runs", "Validation runs in the last 30 days by outcome",
                                   labels=["outcome"])
        rate = GaugeMetricFamily("intelsec_validation_pass_rate", "Passed / (passed + failed) runs, last 30 days")
        gaps = GaugeMetricFamily("intelsec_validation_coverage_gaps", "Open validation.coverage_gap alerts")
        kill_g = GaugeMetricFamily("intelsec_validation_kill_switch", "1 while the kill switch is engaged")
        try:
            st = run_stats(self.ctx.db, self.ctx.clock.now())
            for outcome, n in st["outcomes"].items():
                runs_g.add_metric([outcome], n)
            if st["pass_rate"] is not None:
                rate.add_metric([], st["pass_rate"])
            gaps.add_metric([], st["open_coverage_gaps"])
            kill_g.add_metric([], 1 if killswitch.status(self.ctx.workspace.state_dir).engaged else 0)
        except Exception:  # a scrape must not fail because the database blipped
            log.warning("validation stats unavailable for /metrics", exc_info=True)
        yield from (runs_g, rate, gaps, kill_g)


def _card(ctx: AppContext) -> list[tuple[str, Any]]:
    from intelsec.validation import killswitch
    from intelsec.validation.stats import run_stats

    st = run_stats(ctx.db, ctx.clock.now())
    rate = st["pass_rate"]
    kill_state = killswitch.status(ctx.workspace.state_dir)
    return [("pass rate (30d)", "-" if rate is None else f"{rate:.0%}"),
            ("failed runs (30d)", st["outcomes"]["failed"]),
            ("open coverage gaps", st["open_coverage_gaps"]),
            ("kill switch", "ENGAGED" if kill_state.engaged else "-")]


def _schedule_loop(ctx: AppContext, stop: threading.Event, interval: float) -> None:
    from intelsec.validation import killswitch

    while not stop.wait(interval):
        try:
            if killswitch.status(ctx.workspace.state_dir).engaged:
                continue  # nothing starts while the switch is on; due scenarios wait
            runner = _runner(ctx)
            for sid, sc in runner.due():
                if stop.is_set():
                    break
                outcome = runner.run(sid, sc)
                log.info("validation %s: %s", sid, outcome.status)
        except Exception:
            log.exception("validation scheduler tick failed")


def on_startup(ctx: AppContext) -> None:
    from intelsec.validation.runner import settings_for

    registry = ctx.extras.get("registry")
    if registry is not None and not ctx.extras.get("validation.collector"):
        collector = _Collector(ctx)
        registry.register(collector)
        ctx.extras["validation.collector"] = collector
    ctx.extras["console.validation"] = _card
    try:
        settings = settings_for(ctx.workspace)
    except IntelsecError:
        log.warning("validation settings invalid; scheduler off", exc_info=True)
        return
    if settings.scheduler and "validation.scheduler" not in ctx.extras:
        stop = threading.Event()
        thread = threading.Thread(target=_schedule_loop, args=(ctx, stop, settings.scheduler_interval_seconds),
                                  name="validation-scheduler", daemon=True)
        ctx.extras["validation.scheduler"] = (stop, thread)
        thread.start()


def on_shutdown(ctx: AppContext) -> None:
    sched = ctx.extras.pop("validation.scheduler", None)
    if sched is not None:
        stop, thread = sched
        stop.set()
        thread.join(30)
