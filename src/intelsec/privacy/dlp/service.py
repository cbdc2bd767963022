"""One DLP run: detectors + token filters + baseline over paths, with the summary and exit code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from intelsec.fingerprints import KeyedFilter, load_all
from intelsec.privacy.dlp.baseline import Baseline
from intelsec.privacy.dlp.config import load_policies
from intelsec.privacy.dlp.detectors import BUILTINS, SEVERITY_RANK, Detector, select, user_detector
from intelsec.privacy.dlp.files import MAX_LINE, FileScanner, Problem
from intelsec.privacy.dlp.scanner import LEAK, Finding, Scanner

FAIL_ON = ("low", "medium", "high", "critical", "none")


def load_known(path: Path) -> list[KeyedFilter]:
    """Filters from a fingerprint directory (`key` + `*.filter`) or a workspace state dir."""
    from intelsec.errors import InputError

    d = path / "fingerprints" if (path / "fingerprints" / "key").exists() else path
    if not (d / "key").is_file():
        raise InputError(f"{path}: no fingerprint key here (expected {d / 'key'} beside *.filter files)")
    try:
        return load_all(d.parent) if d.name == "fingerprints" else _load_dir(d)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot load fingerprint filters: {exc}") from None


def _load_dir(d: Path) -> list[KeyedFilter]:
    key = (d / "key").read_bytes()
    return [KeyedFilter.load(p, key) for p in sorted(d.glob("*.filter"))]


def build_detectors(policies: Path | None, wanted: Sequence[str] | None) -> tuple[list[Detector], list[Problem]]:
    """Built-ins (minus `disable`) plus the valid user patterns; bad patterns become problems."""
    dets = list(BUILTINS)
    problems: list[Problem] = []
    if policies is not None:
        pol, errors = load_policies(policies)
        problems = [Problem(policies.as_posix(), line, "invalid_pattern", msg) for line, msg in errors]
        dets = [d for d in dets if d.id not in pol.disable]
        dets += [user_detector(p.name, p.regex, p.severity, p.luhn, p.description) for p in pol.patterns]
    return select(dets, list(wanted) if wanted else None), problems


class DlpRun:
    """Scan paths once; iterate `findings()` (baselined ones removed), then read `summary()`."""

    def __init__(self, detectors: Sequence[Detector], *, filters: Sequence[KeyedFilter] = (),
                 baseline: Baseline | None = None, fail_on: str = "low", engine: str = "auto",
                 max_line: int = MAX_LINE, problems: Iterable[Problem] = ()) -> None:
        self.scanner = Scanner(detectors, engine, filters)
        self.files = FileScanner(self.scanner, max_line=max_line)
        self.files.stats.problems.extend(problems)
        self.baseline = baseline
        self.fail_on = fail_on
        self.by_detector: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.failing = 0
        self.baselined = 0

    @property
    def problems(self) -> list[Problem]:
        return self.files.stats.problems

    def findings(self, paths: Iterable[str | Path]) -> Iterator[Finding]:
        threshold = SEVERITY_RANK.get(self.fail_on, len(SEVERITY_RANK))
        for f in self.files.scan_paths(paths):
            if self.baseline is not None and f.status == LEAK and f in self.baseline:
                self.baselined += 1
                continue
            self.by_detector[f.detector] += 1
            self.by_status[f.status] += 1
            if f.status == LEAK and SEVERITY_RANK[f.severity] >= threshold:
                self.failing += 1
            yield f

    def exit_code(self) -> int:
        """2 when input could not be fully scanned, else 1 when a leak at/above --fail-on remains."""
        if self.files.stats.incomplete:
            return 2
        return 1 if self.failing else 0

    def summary(self) -> dict[str, Any]:
        st = self.files.stats
        kinds = Counter(p.kind for p in st.problems)
        return {
            "engine": self.scanner.engine.name,
            "detectors": [d.id for d in self.scanner.detectors],
            "files_scanned": st.files_scanned,
            "bytes_scanned": st.bytes_scanned,
            "lines_scanned": st.lines_scanned,
            "findings": sum(self.by_status.values()),
            "by_detector": dict(sorted(self.by_detector.items())),
            "by_status": dict(sorted(self.by_status.items())),
            "baselined": self.baselined,
            "fail_on": self.fail_on,
            "failing": self.failing,
            "skipped": {"binary_files": st.binary_skipped, "unreadable_files": st.unreadable,
                        "broken_gzip_files": st.broken_gzip, "long_lines": st.lines_skipped,
                        "invalid_utf8_lines": st.invalid_utf8_lines,
                        "invalid_patterns": kinds.get("invalid_pattern", 0)},
            "problems": [{"path": p.path, "line": p.line, "kind": p.kind, "message": p.message}
                         for p in st.problems],
            "exit_code": self.exit_code(),
        }
