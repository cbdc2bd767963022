"""`Engine`: load Rego policies and data, answer queries as `Decision`s.

Wraps regorus (an embedded Rego interpreter). regorus engines cannot cross threads, so each
thread builds its own from the same sources and the wrapper is safe to share across server threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus
from pydantic import BaseModel

from intelsec.errors import PolicyError, located

os.environ.setdefault("RUST_BACKTRACE", "0")

BUNDLED_DIR = Path(__file__).parent / "bundled"
_LOC = re.compile(r"-->\s*(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+)")
_ERR = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)


@dataclass(frozen=True)
class PolicySource:
    path: str
    text: str
    rego_v0: bool = False


class Decision(BaseModel):
    """The answer to one query: raw result, allow/deny reading, reasons and policy provenance."""

    query: str
    result: Any
    allowed: bool | None
    reasons: list[str]
    policy_digest: str
    defined: bool = True


def _clean_error(exc: Exception, fallback_path: str | None = None) -> str:
    text = str(exc).split("Stack backtrace:")[0].strip()
    loc = _LOC.search(text)
    msg = _ERR.search(text)
    message = msg.group("msg").strip() if msg else (text.splitlines()[-1] if text else type(exc).__name__)
    if loc:
        return located(loc.group("file"), int(loc.group("line")), message, int(loc.group("col")))
    return f"{fallback_path}: {message}" if fallback_path else message


def to_jsonable(value: Any) -> Any:
    """Rego sets come back as Python sets: make them sorted lists for JSON."""
    if isinstance(value, set | frozenset):
        items = [to_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def _reasons(result: Any, query: str) -> tuple[bool | None, list[str]]:
    """Read allow/deny from the common result shapes: bool, set of messages, or a package object."""
    if isinstance(result, bool):
        return result, []
    if isinstance(result, list) and all(isinstance(r, str) for r in result):
        leaf = query.rsplit(".", 1)[-1]
        if leaf in ("deny", "violation", "violations", "reasons", "warn"):
            return (len(result) == 0 if leaf != "warn" else None), list(result)
        return None, []
    if isinstance(result, dict):
        deny = result.get("deny") or result.get("violation") or result.get("reasons") or []
        reasons = [r if isinstance(r, str) else json.dumps(r, sort_keys=True) for r in deny]
        if isinstance(result.get("allow"), bool):
            return bool(result["allow"]), reasons
        if "deny" in result:
            return len(reasons) == 0, reasons
        return None, reasons
    return None, []


# Per-thread regorus engines live in a module-level thread-local (never deallocated), so each one
# is dropped by the thread that built it, as regorus requires. A small LRU bounds the cache.
_THREAD_ENGINES = threading.local()
_MAX_ENGINES_PER_THREAD = 32


def _remember(uid: str, generation: int, eng: regorus.Engine) -> None:
    engines: OrderedDict[str, tuple[int, regorus.Engine]] = _THREAD_ENGINES.__dict__.setdefault(
        "engines", OrderedDict())
    engines[uid] = (generation, eng)
    engines.move_to_end(uid)
    while len(engines) > _MAX_ENGINES_PER_THREAD:
        engines.popitem(last=False)


class Engine:
    """A compiled policy set plus data. Build with `Engine.from_sources` or `Engine.for_workspace`."""

    def __init__(self) -> None:
        self._sources: list[PolicySource] = []
        self._data: dict[str, Any] = {}
        self._compiled = False
        self._uid = uuid.uuid4().hex
        self._is_rule: dict[str, bool] = {}
        self._generation = 0
        self.digest = ""

    # -- loading ---------------------------------------------------------------------------------
    def add_source(self, source: PolicySource) -> None:
        self._sources.append(source)
        self._compiled = False

    def add_file(self, path: str | Path, rego_v0: bool = False) -> None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{p}: cannot read policy: {exc.strerror}") from None
        self.add_source(PolicySource(str(p), text, rego_v0))

    def add_dir(self, directory: str | Path, include_tests: bool = False, v0_files: Iterable[str] = ()) -> None:
        v0 = {str(Path(f)) for f in v0_files}
        for p in sorted(Path(directory).rglob("*.rego")):
            if not include_tests and p.name.endswith("_test.rego"):
                continue
            self.add_file(p, rego_v0=str(p) in v0 or p.name in v0)

    def set_data(self, dotted_path: str, value: Any) -> None:
        """Place `value` at `data.<dotted_path>`."""
        node = self._data
        parts = dotted_path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        self._compiled = False

    def merge_data(self, data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            self.set_data(key, value)

    @property
    def sources(self) -> list[PolicySource]:
        return list(self._sources)

    def _build(self) -> tuple[regorus.Engine, str]:
        """Parse every policy into a fresh regorus engine; PolicyError names file:line:col."""
        eng = regorus.Engine()
        h = hashlib.sha256()
        for src in sorted(self._sources, key=lambda s: s.path):
            eng.set_rego_v0(src.rego_v0)
            try:
                eng.add_policy(src.path, src.text)
            except Exception as exc:  # regorus raises RuntimeError with a rendered diagnostic
                raise PolicyError(_clean_error(exc, src.path)) from None
            h.update(src.path.encode() + b"\x00" + src.text.encode() + b"\x00")
        data_json = json.dumps(self._data, sort_keys=True, default=str)
        if self._data:
            try:
                eng.add_data_json(data_json)
            except Exception as exc:
                raise PolicyError(f"policy data rejected: {_clean_error(exc)}") from None
        h.update(data_json.encode())
        return eng, h.hexdigest()

    def compile(self) -> None:
        """Compile the policy set (errors surface here) and bind it to the calling thread."""
        eng, digest = self._build()
        self._generation += 1
        self.digest = digest
        self._compiled = True
        _remember(self._uid, self._generation, eng)

    def _engine(self) -> regorus.Engine:
        # regorus engines are bound to the thread that created them, so each thread builds its own.
        if not self._compiled:
            self.compile()
        cached = _THREAD_ENGINES.__dict__.get("engines", {}).get(self._uid)
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        eng, _ = self._build()
        _remember(self._uid, self._generation, eng)
        return eng

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, query: str, input: Any = None) -> tuple[bool, Any]:
        """Evaluate a rule path such as `data.egress.deny`; returns (defined, result)."""
        eng = self._engine()
        eng.set_input_json(json.dumps(input if input is not None else {}, default=str))
        q = query if query.startswith("data") else f"data.{query}"
        if self._is_rule.get(q, True):
            try:
                value = eng.eval_rule(q)
                self._is_rule[q] = True
                if value is not None:  # None means undefined or null: let the query below tell which
                    return True, to_jsonable(value)
            except RuntimeError as exc:
                if "not a valid rule path" not in str(exc):
                    raise PolicyError(f"evaluating {q}: {_clean_error(exc)}") from None
                self._is_rule[q] = False  # a package path such as data.egress: ask it as a query
        try:
            out = eng.eval_query(q)
        except RuntimeError as exc:
            raise PolicyError(f"evaluating {q}: {_clean_error(exc)}") from None
        results = out.get("result") or []
        if not results or not results[0].get("expressions"):
            return False, None
        return True, to_jsonable(results[0]["expressions"][0]["value"])

    def decide(self, query: str, input: Any = None) -> Decision:
        defined, result = self.evaluate(query, input)
        allowed, reasons = _reasons(result, query) if defined else (None, [])
        # model_construct: the fields come from our own code, so skip validation on this hot path
        return Decision.model_construct(query=query, result=result, allowed=allowed, reasons=reasons,
                                        policy_digest=self.digest, defined=defined)

    def packages(self) -> list[str]:
        return list(self._engine().get_packages())
