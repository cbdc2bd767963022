"""Tokenize telemetry records per schema: a pure function over pyarrow RecordBatches.

Input batches carry one record per row: `line` (int64, position in its source) and `record`
(the record as JSON text). The output batch has the same columns with tokenized records; records
that cannot be fully tokenized go to the quarantine batch (`line`, `reason`) and are not output at
all, so plaintext of a declared field never passes through. Local process pools and Spark
(`mapInArrow`) can both run `tokenize_batch`; it has no I/O and no global state beyond a cache of
tokenizers per plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pyarrow as pa

INPUT_SCHEMA = pa.schema([("line", pa.int64()), ("record", pa.string())])
QUARANTINE_SCHEMA = pa.schema([("line", pa.int64()), ("reason", pa.string())])
PASSTHROUGH = ("keep", "drop")
READER_ERROR = "\x00"  # a record text starting with this is a reader's reason, not data


@dataclass(frozen=True)
class TokenizePlan:
    """What to do with each declared path, the undeclared policy and the data key (never printed)."""

    fields: tuple[tuple[str, str, tuple[tuple[str, Any], ...], str], ...]  # (path, kind, options, tweak name)
    undeclared: str
    alg: str
    key: bytes = field(repr=False)

    @property
    def kinds(self) -> dict[str, str]:
        return {p: k for p, k, _, _ in self.fields}


@dataclass
class TokenizedBatch:
    records: pa.RecordBatch
    quarantine: pa.RecordBatch
    tokens: list[str]
    fields_tokenized: int


def batch_of(lines: list[int], records: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(lines, pa.int64()), pa.array(records, pa.string())],
                                      schema=INPUT_SCHEMA)


@lru_cache(maxsize=8)
def _tokenizers(plan: TokenizePlan) -> dict[str, Any]:
    from intelsec.privacy.tokenizers import make_tokenizer

    return {p: make_tokenizer(k, plan.key, tweak, plan.alg, **dict(opts))
            for p, k, opts, tweak in plan.fields if k not in PASSTHROUGH}


_MISSING = object()


def get_path(doc: dict[str, Any], path: str) -> Any:
    """Value at a dotted path; a literal flat key ("user.email" in a CSV row) wins over nesting."""
    if path in doc:
        return doc[path]
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    if path in doc:
        doc[path] = value
        return
    parts = path.split(".")
    cur = doc
    for part in parts[:-1]:
        cur = cur[part]
    cur[parts[-1]] = value


def del_path(doc: dict[str, Any], path: str) -> None:
    if path in doc:
        del doc[path]
        return
    parts = path.split(".")
    cur: Any = doc
    for part in parts[:-1]:
        if not isinstance(cur, dict) or part not in cur:
            return
        cur = cur[part]
    if isinstance(cur, dict):
        cur.pop(parts[-1], None)


def leaf_paths(doc: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for k, v in doc.items():
        p = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from leaf_paths(v, p + ".")  # an empty object holds no value
        else:
            yield p


def undeclared_paths(doc: dict[str, Any], declared: dict[str, str]) -> list[str]:
    """Leaf paths not covered by a declared path (a declared path covers its whole subtree)."""
    out = []
    for p in leaf_paths(doc):
        q = p
        while q not in declared:
            if "." not in q:
                out.append(p)
                break
            q = q.rsplit(".", 1)[0]
    return out


def _spelling(doc: dict[str, Any], path: str) -> tuple[str, ...]:
    """The keys `get_path` reads `path` through."""
    return (path,) if path in doc else tuple(path.split("."))


def _dotted_key(d: dict[str, Any]) -> bool:
    return any("." in k or (isinstance(v, dict) and _dotted_key(v)) for k, v in d.items())


def ambiguous_paths(doc: dict[str, Any], kinds: dict[str, str]) -> list[str]:
    """Declared (non-keep) paths the record also spells another way than `get_path` reads.

    `{"user.email": x, "user": {"email": y}}` or `{"user": {"a.b": y}}` for `user.a.b`: only one
    spelling would be tokenized or dropped, the other would pass through in clear.
    """
    if not _dotted_key(doc):  # the common case: one spelling per path
        return []
    seen: dict[str, set[tuple[str, ...]]] = {}

    def walk(d: dict[str, Any], keys: tuple[str, ...]) -> None:
        for k, v in d.items():
            t = (*keys, k)
            if isinstance(v, dict) and v:
                walk(v, t)
                continue
            for n in range(len(t), 0, -1):  # the longest declared prefix covers this leaf
                p = ".".join(t[:n])
                if p in kinds:
                    if kinds[p] != "keep":
                        seen.setdefault(p, set()).add(t[:n])
                    break

    walk(doc, ())
    return sorted(p for p, spelt in seen.items() if spelt - {_spelling(doc, p)})


def list_paths(doc: dict[str, Any], kinds: dict[str, str]) -> list[str]:
    """Declared (non-keep) paths that run through a list of objects in this record (`user: [{email}]`
    for `user.email`): paths do not reach into lists, so values there would pass through untouched."""
    out = []
    for path, kind in kinds.items():
        if kind == "keep" or "." not in path or path in doc:
            continue
        cur: Any = doc
        for part in path.split(".")[:-1]:
            cur = cur.get(part) if isinstance(cur, dict) else None
            if isinstance(cur, list) and any(isinstance(x, dict) for x in cur):
                out.append(path)
                break
    return out


def tokenize_batch(batch: pa.RecordBatch, plan: TokenizePlan) -> TokenizedBatch:
    """Tokenize every declared field of every record in `batch` (pure: no I/O)."""
    tokenizers = _tokenizers(plan)
    kinds = plan.kinds
    lines = batch.column("line").to_pylist()
    raw = batch.column("record").to_pylist()
    docs: list[dict[str, Any] | None] = []
    reasons: dict[int, str] = {}
    for i, text in enumerate(raw):
        if text.startswith(READER_ERROR):  # the reader already knows why this record is unusable
            reasons[i] = text[1:]
            docs.append(None)
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            reasons[i] = f"not JSON: {exc.msg} at column {exc.colno}"
            docs.append(None)
            continue
        except RecursionError:
            reasons[i] = "not JSON: nested too deeply"
            docs.append(None)
            continue
        if not isinstance(doc, dict):
            reasons[i] = f"not a JSON object ({type(doc).__name__})"
            docs.append(None)
            continue
        docs.append(doc)
        try:
            clash = ambiguous_paths(doc, kinds)
            extra = undeclared_paths(doc, kinds)
        except RecursionError:
            reasons[i] = "record nested too deeply"
            continue
        listed = list_paths(doc, kinds)
        if clash:
            reasons[i] = f"field {clash[0]}: spelled both as a flat key and nested (only one would be tokenized)"
        elif listed:
            reasons[i] = f"field {listed[0]}: runs through a list of objects (paths do not reach into lists)"
        elif extra and plan.undeclared == "fail":
            reasons[i] = f"undeclared field {extra[0]} (schema says undeclared: fail)"
        elif extra and plan.undeclared == "drop":
            for p in extra:
                del_path(doc, p)
    tokens: list[str] = []
    count = 0
    for path, tok in tokenizers.items():
        # (row, list index or -1, value) for every string to tokenize under this path
        slots: list[tuple[int, int]] = []
        values: list[str] = []
        for i, doc in enumerate(docs):
            if doc is None or i in reasons:
                continue
            v = get_path(doc, path)
            if v is _MISSING or v is None or v == "":
                continue
            if isinstance(v, str):
                slots.append((i, -1))
                values.append(v)
            elif isinstance(v, list) and all(isinstance(x, str) for x in v):
                for j, x in enumerate(v):
                    slots.append((i, j))
                    values.append(x)
            else:
                reasons[i] = f"field {path}: expected a string for {kinds[path]}, got {type(v).__name__}"
        if not values:
            continue
        res = tok.tokenize(values)
        for k, (i, j) in enumerate(slots):
            if i in reasons:
                continue
            if k in res.errors:
                reasons[i] = f"field {path}: {res.errors[k]}"
                continue
            t = res.values[k]
            doc = docs[i]
            assert doc is not None and t is not None
            if j < 0:
                set_path(doc, path, t)
            else:
                get_path(doc, path)[j] = t
    out_lines, out_records = [], []
    for i, doc in enumerate(docs):
        if i in reasons or doc is None:
            continue
        for path, kind in kinds.items():
            if kind == "drop":
                del_path(doc, path)
            elif kind not in PASSTHROUGH:
                v = get_path(doc, path)
                if isinstance(v, str) and v:
                    tokens.append(v)
                    count += 1
                elif isinstance(v, list):
                    tokens.extend(v)
                    count += len(v)
        out_lines.append(lines[i])
        out_records.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str))
    q = sorted(reasons)
    quarantine = pa.RecordBatch.from_arrays([pa.array([lines[i] for i in q], pa.int64()),
                                             pa.array([reasons[i] for i in q], pa.string())],
                                            schema=QUARANTINE_SCHEMA)
    return TokenizedBatch(batch_of(out_lines, out_records), quarantine, tokens, count)


def check_record(doc: Any, kinds: dict[str, str], undeclared: str,
                 is_token: Any) -> list[str]:
    """Why a record is not fully tokenized per schema (empty list: it is)."""
    if not isinstance(doc, dict):
        return ["<record>: not a JSON object"]
    problems = [f"{p}: spelled both as a flat key and nested" for p in ambiguous_paths(doc, kinds)]
    problems += [f"{p}: runs through a list of objects" for p in list_paths(doc, kinds)]
    for path, kind in kinds.items():
        v = get_path(doc, path)
        if v is _MISSING or v is None or v == "" or kind == "keep":
            continue
        if kind == "drop":
            problems.append(f"{path}: declared drop but present")
            continue
        vals = v if isinstance(v, list) else [v]
        if not all(isinstance(x, str) and is_token(x) for x in vals):
            problems.append(f"{path}: not a token emitted by this workspace ({kind})")
    if undeclared != "keep":
        problems += [f"{p}: undeclared field present (schema says undeclared: {undeclared})"
                     for p in undeclared_paths(doc, kinds)]
    return problems
