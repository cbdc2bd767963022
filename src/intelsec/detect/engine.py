"""Run compiled Sigma rules over events loaded into an in-memory SQLite `logs` table.

Only the columns some rule reads are created (flattened dotted names, `TEXT COLLATE NOCASE` as
Zircolite lays them out), plus the event time and a row number that maps hits back to events.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from intelsec.detect.compile import EVENT_ID_FIELD, TEXT_FIELD, TIMESTAMP_FIELD
from intelsec.detect.events import event_time, flatten
from intelsec.detect.models import CompiledRule, Match, RuleProblem

_MISSING_COLUMN = re.compile(r"no such column: (.+)$")


@lru_cache(maxsize=512)
def _pattern(expr: str) -> re.Pattern[str]:
    return re.compile(expr)


def _regexp(expr: str, value: Any) -> bool:
    return value is not None and _pattern(expr).search(str(value)) is not None


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return str(value)  # beyond SQLite's INTEGER: bound as the text it would be stored as anyway
    return value


class EventTable:
    """An in-memory `logs` table holding the fields the given rules need."""

    def __init__(self, rules: Sequence[CompiledRule], events: Sequence[dict[str, Any]]) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.create_function("regexp", 2, _regexp, deterministic=True)
        fields: dict[str, str] = {}
        for rule in rules:
            needed = list(rule.required_fields)
            for table_fields in (rule.plan or {}).get("required_fields", {}).values():
                needed.extend(table_fields)
            for f in needed:
                if f.lower() not in (EVENT_ID_FIELD, TIMESTAMP_FIELD, TEXT_FIELD, "rowid"):
                    fields.setdefault(f.lower(), f)
        self.columns = list(fields.values())
        text = any(r.keywords for r in rules)
        cols = [f"{EVENT_ID_FIELD} INTEGER PRIMARY KEY", f"{TIMESTAMP_FIELD} TEXT", f"{TEXT_FIELD} TEXT COLLATE NOCASE"]
        cols += [f"{_quote(c)} TEXT COLLATE NOCASE" for c in self.columns]
        self.conn.execute(f"CREATE TABLE logs ({', '.join(cols)})")
        rows = []
        for i, doc in enumerate(events):
            flat = flatten(doc)
            joined = "\n".join(str(_cell(v)) for v in flat.values() if v is not None) if text else ""
            lower = {k.lower(): v for k, v in flat.items()}
            rows.append([i, event_time(flat), joined] + [_cell(lower.get(c.lower())) for c in self.columns])
        marks = ", ".join("?" * (len(self.columns) + 3))
        self.conn.executemany(f"INSERT INTO logs VALUES ({marks})", rows)

    def close(self) -> None:
        self.conn.close()

    def add_column(self, name: str) -> None:
        self.conn.execute(f"ALTER TABLE logs ADD COLUMN {_quote(name)} TEXT COLLATE NOCASE")

    def event_rows(self, sql: str) -> list[int]:
        for _ in range(20):
            try:
                cur = self.conn.execute(sql)
            except sqlite3.OperationalError as exc:
                missing = _MISSING_COLUMN.search(str(exc))
                if not missing:
                    raise
                self.add_column(missing.group(1).strip("`\""))  # a field absent from every event
                continue
            idx = [d[0] for d in cur.description].index(EVENT_ID_FIELD)
            return [row[idx] for row in cur]
        raise sqlite3.OperationalError("too many missing columns")

    def correlate(self, rule: CompiledRule) -> list[Match]:
        from sigma.backends.sqlite.runtime import execute_plan

        assert rule.plan is not None
        rows, _diag = execute_plan(self.conn, rule.plan, include_events=False)
        return _merge(rule, rows)


def _merge(rule: CompiledRule, rows: list[dict[str, Any]]) -> list[Match]:
    """One match per group and burst: overlapping windows (one per anchor event) are merged."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_group.setdefault(json.dumps(row.get("group_keys") or {}, sort_keys=True, default=str), []).append(row)
    matches: list[Match] = []
    for group_rows in by_group.values():
        group_rows.sort(key=lambda r: (r.get("window_start") or 0, r.get("window_end") or 0))
        current: Match | None = None
        for row in group_rows:
            start, end = row.get("window_start"), row.get("window_end")
            ids = {int(e.split(":", 1)[1]) for e in row["event_ids"]}
            window = (float(start), float(end)) if start is not None and end is not None else None
            if current is not None and current.window and window and window[0] <= current.window[1]:
                current.events = sorted(set(current.events) | ids)
                current.window = (current.window[0], max(current.window[1], window[1]))
                continue
            current = Match(rule, sorted(ids), dict(row.get("group_keys") or {}), window)
            matches.append(current)
    return matches


def run_rules(rules: Sequence[CompiledRule], events: Sequence[dict[str, Any]]) -> tuple[list[Match], list[RuleProblem]]:
    """Every match of every rule over `events`; a rule failing at run time becomes a problem, not a crash."""
    table = EventTable(rules, events)
    matches: list[Match] = []
    problems: list[RuleProblem] = []
    try:
        for rule in rules:
            try:
                if rule.is_correlation:
                    matches.extend(table.correlate(rule))
                    continue
                hits: set[int] = set()
                for sql in rule.queries:
                    hits.update(table.event_rows(sql))
                if hits:
                    matches.append(Match(rule, sorted(hits)))
            except (sqlite3.Error, ValueError, re.error) as exc:
                problems.append(RuleProblem(rule.path, f"failed at run time: {exc}", rule.title))
    finally:
        table.close()
    return matches, problems
