"""Load Sigma files and compile them with pySigma's SQLite backend.

All files given are compiled as one collection, so a correlation rule may refer to rules in other
files (one rule per file keeps each valid YAML). Nothing is dropped silently: every file or rule
that cannot be compiled comes back as a `RuleProblem` with the reason in words, and the rest
still compile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from intelsec.detect.models import CompiledRule, RuleProblem
from intelsec.errors import InputError

SIGMA_SUFFIXES = (".yml", ".yaml")
EVENT_ID_FIELD = "_intelsec_row"
TIMESTAMP_FIELD = "timestamp"
TEXT_FIELD = "_intelsec_text"  # every value of the event, for keyword (fieldless) rules


def sigma_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (recursively) into Sigma rule files, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SIGMA_SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(f"{p}: no such Sigma rule file or directory")
    return found


def _reason(exc: Exception) -> str:
    text = str(exc).split(" (while ")[0]
    if isinstance(exc, AttributeError) and "EmptySigmaDetections" in text:
        return "not a Sigma rule: no detection section"
    if "pipe syntax" in text:
        return "legacy aggregation (`| count()`) is not supported; rewrite it as a Sigma correlation rule"
    return f"{type(exc).__name__}: {text}"


def _rule_errors(errors: list[Exception]) -> str:
    kinds = {type(e).__name__ for e in errors}
    if {"SigmaTitleError", "SigmaDetectionError"} <= kinds:
        return "not a Sigma rule: it has no title and no detection section"
    return "; ".join(_reason(e) for e in errors)


def _backend() -> Any:
    from sigma.backends.sqlite import sqliteBackend

    return sqliteBackend(collect_errors=True, collate_nocase=True, event_id_field=EVENT_ID_FIELD,
                         timestamp_field=TIMESTAMP_FIELD, fulltext_field=TEXT_FIELD)


def _path_of(rule: Any) -> str:
    source = getattr(rule, "source", None)
    return str(getattr(source, "path", "") or "")


def _load(files: list[Path]) -> tuple[list[Any], list[Any], list[RuleProblem]]:
    """Parse each file on its own; a file that does not parse is a problem, not an abort."""
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaRuleLocation

    rules: list[Any] = []
    filters: list[Any] = []
    problems: list[RuleProblem] = []
    for path in files:
        try:
            col = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), True, source=SigmaRuleLocation(path),
                                            collect_filters=True, resolve_references=False)
        except Exception as exc:  # pySigma raises many unrelated types for malformed files
            problems.append(RuleProblem(str(path), _reason(exc)))
            continue
        for rule in col.rules:
            errors = list(getattr(rule, "errors", []))
            if errors:
                problems.append(RuleProblem(str(path), _rule_errors(errors), rule.title or None))
            else:
                rules.append(rule)
        filters.extend(col.filters)
        if not col.rules and not col.filters:
            problems.append(RuleProblem(str(path), "no Sigma rule in this file"))
    return rules, filters, problems


def _resolvable(rules: list[Any]) -> tuple[list[Any], list[RuleProblem]]:
    """Drop correlation rules that refer to rules nobody supplied (and those built on them)."""
    from sigma.correlations import SigmaCorrelationRule

    problems: list[RuleProblem] = []
    kept = list(rules)
    while True:
        known = {str(r.id) for r in kept if r.id} | {r.name for r in kept if r.name}
        bad = [(r, [ref.reference for ref in (r.rules or []) if str(ref.reference) not in known])
               for r in kept if isinstance(r, SigmaCorrelationRule)]
        bad = [(r, missing) for r, missing in bad if missing]
        if not bad:
            return kept, problems
        for rule, missing in bad:
            kept.remove(rule)
            problems.append(RuleProblem(_path_of(rule), "correlation refers to rule(s) not found in the given files: "
                                        + ", ".join(map(str, missing)), rule.title))


def compile_paths(paths: Iterable[str | Path]) -> tuple[list[CompiledRule], list[RuleProblem]]:
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule

    files = sigma_files(paths)
    parsed, filters, problems = _load(files)
    usable, unresolved = _resolvable(parsed)
    problems.extend(unresolved)
    collection = SigmaCollection(usable + filters, resolve_references=True)
    backend = _backend()
    backend.init_processing_pipeline("zircolite")
    compiled: list[CompiledRule] = []
    failed: set[int] = set()
    for rule in collection.rules:
        try:
            if isinstance(rule, SigmaCorrelationRule):
                if any(id(ref.rule) in failed for ref in (rule.rules or [])):
                    raise ValueError("a rule it refers to failed to compile")
                queries = backend.convert_correlation_rule(rule, "zircolite")
            else:
                queries = backend.convert_rule(rule, "zircolite")
        except Exception as exc:  # one rule's failure must not stop the others
            failed.add(id(rule))
            problems.append(RuleProblem(_path_of(rule), _reason(exc), rule.title))
            continue
        if queries:
            compiled.extend(_compiled(e, rule) for e in json.loads(backend.finalize(queries, "zircolite")))
    problems.extend(RuleProblem(_path_of(r), _reason(e), r.title) for r, e in backend.errors)
    with_output = {r.path for r in compiled} | {p.path for p in problems}
    for f in files:
        if str(f) not in with_output and not _only_referenced(f, collection):
            reason = ("Sigma filter: it changes other rules and yields no query of its own"
                      if any(_path_of(x) == str(f) for x in filters) else "no rule in this file produces a query")
            problems.append(RuleProblem(str(f), reason))
    return compiled, problems


def _only_referenced(path: Path, collection: Any) -> bool:
    """True when the file's rules exist only as building blocks of correlation rules."""
    own = [r for r in collection.rules if _path_of(r) == str(path)]
    return bool(own) and all(r._backreferences and not r._output for r in own)


def _compiled(entry: dict[str, Any], rule: Any) -> CompiledRule:
    fields = tuple(entry.get("required_fields") or ())
    return CompiledRule(
        id=str(entry.get("id") or ""),
        title=str(entry.get("title") or ""),
        name=getattr(rule, "name", None),
        level=str(entry.get("level") or "medium"),
        tags=tuple(entry.get("tags") or ()),
        path=_path_of(rule),
        queries=tuple(entry.get("rule") or ()),
        required_fields=tuple(f for f in fields if f not in (EVENT_ID_FIELD, TIMESTAMP_FIELD, TEXT_FIELD)),
        keywords=TEXT_FIELD in fields or bool(entry.get("fulltext")),
        plan=entry.get("correlation_plan"),
    )
