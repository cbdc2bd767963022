"""Burn-down: record each triage run (open / new / fixed by severity) and read the trend back."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from intelsec.clock import Clock, SystemClock
from intelsec.sbom.models import SEVERITIES, Vulnerability
from intelsec.sbom.tables import SbomFinding
from intelsec.store.db import Database
from intelsec.store.models import Run

RUN_KIND = "sbom.triage"


def _fp(v: Vulnerability) -> str:
    return hashlib.sha256(f"{v.ecosystem}|{v.package.lower()}|{v.version}|{v.id}".encode()).hexdigest()[:40]


def _by_sev(items: list[str]) -> dict[str, int]:
    c = Counter(items)
    return {s: c.get(s, 0) for s in SEVERITIES}


def record_run(db: Database, project: str, vulns: list[Vulnerability], summary: dict[str, Any],
               clock: Clock | None = None) -> dict[str, Any]:
    """Update the project's open set and store one `Run` (kind `sbom.triage`) with the counts."""
    now = (clock or SystemClock()).now()
    current = {_fp(v): v for v in vulns if not v.suppressed}
    new_sev: list[str] = []
    fixed_sev: list[str] = []
    with db.session() as s:
        rows = {r.fingerprint: r for r in s.scalars(select(SbomFinding).where(SbomFinding.project == project))}
        for fp, v in current.items():
            row = rows.get(fp)
            if row is None:
                s.add(SbomFinding(project=project, fingerprint=fp, vuln_id=v.id[:128], package=v.package[:255],
                                  version=v.version[:128], ecosystem=v.ecosystem[:32], severity=v.severity,
                                  first_seen_at=now, last_seen_at=now))
                new_sev.append(v.severity)
            else:
                if row.fixed_at is not None:  # came back (regression): counts as new again
                    row.fixed_at = None
                    new_sev.append(v.severity)
                row.last_seen_at, row.severity = now, v.severity
        for fp, row in rows.items():
            if fp not in current and row.fixed_at is None:
                row.fixed_at = now
                fixed_sev.append(row.severity)
        counts = {
            "project": project,
            "open": _by_sev([v.severity for v in current.values()]),
            "new": _by_sev(new_sev),
            "fixed": _by_sev(fixed_sev),
            "open_total": len(current),
            "kev": sum(1 for v in current.values() if v.kev),
            "problems": summary.get("problems", 0),
            "inputs": [i.get("path") for i in summary.get("inputs", [])][:20],
        }
        run = Run(kind=RUN_KIND, status="ok", started_at=now, finished_at=now, summary=counts)
        s.add(run)
        s.flush()
        counts["run_id"] = run.id
    return counts


def burndown(db: Database, project: str | None = None, since: timedelta = timedelta(days=30),
             clock: Clock | None = None) -> dict[str, Any]:
    """Runs since `since`, the weekly slope of open vulnerabilities, and criticals outstanding."""
    now = (clock or SystemClock()).now()
    start = now - since
    with db.session() as s:
        runs = list(s.scalars(select(Run).where(Run.kind == RUN_KIND, Run.started_at >= start)
                              .order_by(Run.started_at, Run.id)))
        points = [{"time": r.started_at.isoformat(), "project": r.summary.get("project"),
                   "open": r.summary.get("open_total", 0), "critical": r.summary.get("open", {}).get("critical", 0),
                   "high": r.summary.get("open", {}).get("high", 0),
                   "new": sum(r.summary.get("new", {}).values()), "fixed": sum(r.summary.get("fixed", {}).values()),
                   "kev": r.summary.get("kev", 0)}
                  for r in runs if project is None or r.summary.get("project") == project]
    return {"project": project, "since": start.isoformat(), "runs": points, "weekly_slope": weekly_slope(points),
            "criticals_outstanding": _latest_criticals(points), "open": points[-1]["open"] if points else None}


def _latest_criticals(points: list[dict[str, Any]]) -> int | None:
    if not points:
        return None
    latest: dict[Any, int] = {}
    for p in points:
        latest[p["project"]] = p["critical"]
    return sum(latest.values())


def weekly_slope(points: list[dict[str, Any]]) -> float | None:
    """Least-squares slope of open vulnerabilities per week (negative = burning down), over the
    last value of each day (summed across projects), so several runs a day do not skew it."""
    daily: dict[str, dict[Any, int]] = {}
    for p in points:
        daily.setdefault(p["time"][:10], {})[p["project"]] = int(p["open"])
    if len(daily) < 2:
        return None
    days = sorted(daily)
    xs = [datetime.fromisoformat(d).toordinal() / 7 for d in days]
    ys = [float(sum(daily[d].values())) for d in days]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den, 2)


def write_png(data: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    times: Any = [datetime.fromisoformat(p["time"]) for p in runs]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.plot(times, [p["open"] for p in runs], marker="o", label="open")
    ax.plot(times, [p["critical"] for p in runs], marker="o", color="tab:red", label="critical")
    ax.plot(times, [p["high"] for p in runs], marker=".", color="tab:orange", label="high")
    slope = data.get("weekly_slope")
    ax.set_title(f"Vulnerability burn-down (slope {slope if slope is not None else 'n/a'}/week, "
                 f"criticals outstanding {data.get('criticals_outstanding')})")
    ax.set_ylabel("open vulnerabilities")
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
