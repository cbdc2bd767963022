"""Run scenarios safely: guardrails first, kill switch before every step, detections afterwards.

Each run is recorded (core `Run`, kind `validation`), every expectation gets an outcome (detected
or missed with the reason), a missed one raises `validation.coverage_gap`, and the outcome is
also written as JSON to the workspace outbox.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from intelsec.alerts import AlertIn, AlertService
from intelsec.clock import Clock, SystemClock, as_utc
from intelsec.config import Workspace
from intelsec.detect.compile import compile_paths
from intelsec.detect.models import CompiledRule, Match, RuleProblem
from intelsec.detect.service import detect
from intelsec.detect.store import load_events
from intelsec.errors import ConfigError, NotFoundError
from intelsec.store.db import Database
from intelsec.store.models import Event
from intelsec.store.runs import finish_run, recent_runs, start_run
from intelsec.validation import killswitch
from intelsec.validation.actions import ACTIONS, Action, ActionContext
from intelsec.validation.guardrails import principal_for, violations
from intelsec.validation.schemas import Expectation, Scenario, ValidationSettings
from intelsec.yamlio import load_model

RUN_KIND = "validation"
GAP_RULE = "validation.coverage_gap"
SOURCE = "validation"


@dataclass
class ExpectationOutcome:
    alert: str
    status: str  # detected | missed
    reason: str | None = None
    rule: str | None = None
    alert_id: str | None = None
    latency_seconds: float | None = None


@dataclass
class RunOutcome:
    run_id: str
    scenario_id: str
    scenario: str
    technique: str | None
    environment: str
    status: str  # passed | failed | aborted | blocked
    started_at: str
    finished_at: str | None = None
    reason: str | None = None
    steps_done: int = 0
    events: int = 0
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    gap_alerts: list[str] = field(default_factory=list)
    outbox: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Aborted(Exception):
    pass


def settings_for(ws: Workspace) -> ValidationSettings:
    from pydantic import ValidationError

    from intelsec.errors import located
    from intelsec.yamlio import read_yaml

    try:
        return ValidationSettings.model_validate(ws.config.validation)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ("validation", *err["loc"])
        path = ws.root / "intelsec.yaml"
        where = ".".join(str(p) for p in loc)
        raise ConfigError(located(path, read_yaml(path).line_of(loc), f"{where}: {err['msg']}")) from None


class Runner:
    def __init__(self, ws: Workspace, db: Database, alerts: AlertService, clock: Clock | None = None,
                 settings: ValidationSettings | None = None, environment: str | None = None,
                 actions: dict[str, Action] | None = None, seed: int | None = None) -> None:
        self.ws, self.db, self.alerts = ws, db, alerts
        self.clock = clock or SystemClock()
        self.settings = settings or settings_for(ws)
        self.environment = environment or self.settings.environment
        self.actions = ACTIONS if actions is None else actions
        self.rng = random.Random(seed)
        self._rules: tuple[list[CompiledRule], list[RuleProblem]] | None = None

    # -- scenarios -------------------------------------------------------------------------
    def scenarios(self) -> list[tuple[str, Scenario]]:
        folder = self.ws.path(self.settings.scenarios_dir)
        files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
        return [(f.stem, load_model(f, Scenario)) for f in files]

    def select(self, names: Sequence[str]) -> list[tuple[str, Scenario]]:
        known = self.scenarios()
        if not names:
            return known
        picked = []
        for name in names:
            hits = [(sid, s) for sid, s in known if name in (sid, s.name)]
            if not hits:
                raise NotFoundError(f"no scenario {name!r} in {self.settings.scenarios_dir}/ "
                                    f"(known: {', '.join(sid for sid, _ in known)})")
            picked.extend(hits)
        return picked

    def last_runs(self, completed_only: bool = False) -> dict[str, datetime]:
        """Start time of each scenario's latest run; `completed_only` skips aborted ones (a kill
        switch or timeout), so they are retried at the next tick; a blocked run counts as done."""
        last: dict[str, datetime] = {}
        for run in recent_runs(self.db, RUN_KIND, limit=5000):
            sid = (run.summary or {}).get("scenario_id")
            if completed_only and run.status not in ("passed", "failed", "blocked"):
                continue
            if sid and sid not in last:
                last[sid] = as_utc(run.started_at)
        return last

    def due(self, now: datetime | None = None) -> list[tuple[str, Scenario]]:
        """Enabled scenarios with a schedule whose next time after their last completed run has come
        (an aborted run is retried at the next tick)."""
        from croniter import croniter

        now = now or self.clock.now()
        last = self.last_runs(completed_only=True)
        out = []
        for sid, sc in self.scenarios():
            if not sc.enabled or not sc.schedule:
                continue
            previous = last.get(sid)
            if previous is None or croniter(sc.schedule, previous).get_next(datetime) <= now:
                out.append((sid, sc))
        return out

    def rules(self) -> tuple[list[CompiledRule], list[RuleProblem]]:
        if self._rules is None:
            folder = self.ws.path(self.settings.detections_dir)
            self._rules = compile_paths([folder]) if folder.is_dir() else ([], [])
        return self._rules

    # -- one run ---------------------------------------------------------------------------
    def run(self, scenario_id: str, scenario: Scenario) -> RunOutcome:
        started = self.clock.now()
        run_id = start_run(self.db, RUN_KIND, self.clock)
        out = RunOutcome(run_id, scenario_id, scenario.name, scenario.technique, self.environment, "running",
                         started.isoformat())
        problems = violations(scenario, self.settings, self.environment, self.actions)
        if problems:
            out.status, out.reason = "blocked", "guardrails: " + "; ".join(problems)
        else:
            try:
                self._simulate(scenario, out, started)
                self._evaluate(scenario, out, started)
            except _Aborted as exc:
                out.status, out.reason = "aborted", str(exc)
            except Exception as exc:  # e.g. a step parameter of the wrong type: never leave a run 'running'
                out.status, out.reason = "aborted", f"error after {out.steps_done} step(s): {type(exc).__name__}: {exc}"
        return self._finish(out)

    def _check(self, out: RunOutcome, started: datetime) -> None:
        kill = killswitch.status(self.ws.state_dir)
        if kill.engaged:
            raise _Aborted(f"kill switch engaged ({kill.reason})")
        elapsed = (self.clock.now() - started).total_seconds()
        if elapsed > self.settings.timeout_seconds:
            raise _Aborted(f"timeout: {elapsed:.0f}s exceeds timeout_seconds={self.settings.timeout_seconds:g}")

    def _simulate(self, scenario: Scenario, out: RunOutcome, started: datetime) -> None:
        principal = principal_for(scenario, self.settings)
        for step in scenario.steps:
            action = self.actions[step.action]
            for i in range(step.repeat):
                self._check(out, started)
                ctx = ActionContext(out.run_id, scenario.name, principal, self.ws.config.trust_domain,
                                    self.clock.now(), self.rng)
                emitted = action.emit(ctx, step.params, i)
                if out.events + len(emitted) > self.settings.max_events_per_run:
                    raise _Aborted(f"guardrails: more than max_events_per_run={self.settings.max_events_per_run} "
                                   "events")
                with self.db.session() as s:
                    for ev in emitted:
                        s.add(Event(time=ctx.now, source=ev.source, kind=ev.kind, entity=ev.entity[:255],
                                    data=ev.data))
                out.events += len(emitted)
            out.steps_done += 1
        self._check(out, started)

    def _evaluate(self, scenario: Scenario, out: RunOutcome, started: datetime) -> None:
        rules, problems = self.rules()
        docs = [d for d in load_events(self.db, since=started) if d.get("simulation_run") == out.run_id]
        report = detect(rules, docs, self.alerts)
        out.alerts = report.alert_ids
        detected_at = self.clock.now()
        by_rule: dict[str, tuple[Match, str]] = {}
        for m, alert_id in zip(report.matches, report.alert_ids, strict=True):
            for alias in m.rule.aliases():
                by_rule.setdefault(alias, (m, alert_id))
        for exp in scenario.expect:
            out.expectations.append(self._outcome(exp, by_rule, rules, [*problems, *report.problems],
                                                  len(docs), (detected_at - started).total_seconds()))
        missed = [e for e in out.expectations if e.status == "missed"]
        out.status = "failed" if missed else "passed"
        for e in missed:
            res = self.alerts.raise_alert(AlertIn(
                rule=GAP_RULE, source=SOURCE, severity="medium", entity=out.scenario_id,
                summary=f"Validation '{scenario.name}' ({scenario.technique or 'no technique'}): "
                        f"expected alert {e.alert!r} was not raised",
                evidence={"run_id": out.run_id, "scenario": scenario.name, "technique": scenario.technique,
                          "expected_alert": e.alert, "reason": e.reason, "environment": self.environment},
            ))
            out.gap_alerts.append(res.alert.id)

    def _outcome(self, exp: Expectation, by_rule: dict[str, tuple[Match, str]], rules: list[CompiledRule],
                 problems: list[RuleProblem], n_events: int, latency: float) -> ExpectationOutcome:
        hit = by_rule.get(exp.alert)
        if hit is not None:
            if latency > exp.within_seconds:
                return ExpectationOutcome(exp.alert, "missed", f"detected after {latency:.0f}s, expected within "
                                          f"{exp.within_seconds}s", hit[0].rule.key, hit[1], latency)
            return ExpectationOutcome(exp.alert, "detected", None, hit[0].rule.key, hit[1], latency)
        rule = next((r for r in rules if exp.alert in r.aliases()), None)
        if rule is not None:
            broken = [p for p in problems if p.rule == rule.title]
            reason = (f"rule failed at run time: {broken[0].reason}" if broken else
                      f"rule {rule.key!r} matched none of the {n_events} simulated events "
                      "(check its fields, values and thresholds)")
            return ExpectationOutcome(exp.alert, "missed", reason, rule.key)
        broken = [p for p in problems if exp.alert in (p.rule, Path(p.path).stem)]
        if broken:
            return ExpectationOutcome(exp.alert, "missed", f"rule does not compile: {broken[0].reason}")
        return ExpectationOutcome(exp.alert, "missed", f"no detection named {exp.alert!r} in "
                                  f"{self.settings.detections_dir}/ ({len(rules)} rules loaded)")

    def _finish(self, out: RunOutcome) -> RunOutcome:
        finished = self.clock.now()
        out.finished_at = finished.isoformat()
        folder = self.ws.path(self.settings.outbox_dir)
        folder.mkdir(parents=True, exist_ok=True)
        started = datetime.fromisoformat(out.started_at)
        path = folder / f"{started:%Y%m%dT%H%M%SZ}-{out.scenario_id}-{out.run_id[:8]}.json"
        out.outbox = str(path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out.as_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        finish_run(self.db, out.run_id, out.status, out.as_dict(), self.clock)
        return out
