"""`opa test`-style runner: evaluates every `test_*` rule found in `*_test.rego` files."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from intelsec.policy.engine import Engine

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^\s*(test_\w+)\b", re.MULTILINE)


@dataclass
class TestResult:
    name: str
    passed: bool
    duration_ms: float
    error: str | None = None


@dataclass
class TestReport:
    results: list[TestResult] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed)

    @property
    def passed(self) -> int:
        return len(self.results) - self.failed


def discover_tests(engine: Engine) -> list[str]:
    """Fully qualified test rule names (data.pkg.test_x) from every *_test.rego source."""
    names: list[str] = []
    for src in engine.sources:
        if not src.path.endswith("_test.rego"):
            continue
        pkg = _PACKAGE.search(src.text)
        if not pkg:
            continue
        for rule in dict.fromkeys(_TEST_RULE.findall(src.text)):
            names.append(f"data.{pkg.group(1)}.{rule}")
    return names


def run_tests(engine: Engine, name_filter: str | None = None) -> TestReport:
    engine.compile()
    report = TestReport()
    for name in discover_tests(engine):
        if name_filter and not re.search(name_filter, name):
            continue
        start = time.perf_counter()
        try:
            defined, value = engine.evaluate(name, {})
            passed, error = (defined and value is True), None
            if not defined:
                error = "undefined (a condition in the test body did not hold)"
            elif value is not True:
                error = f"returned {value!r}"
        except Exception as exc:
            passed, error = False, str(exc)
        report.results.append(TestResult(name, passed, (time.perf_counter() - start) * 1000, error))
    return report


def default_test_paths(root: Path) -> list[Path]:
    return sorted(root.rglob("*_test.rego"))
