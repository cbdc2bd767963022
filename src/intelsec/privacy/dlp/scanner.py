"""The scanner: candidate lines from an engine, then regex spans, validators and token filters.

Findings carry the matched value so the caller can mask, fingerprint or classify it; the value
never appears in `repr` and is never written out (see `mask`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from intelsec.fingerprints import KeyedFilter
from intelsec.privacy.dlp.detectors import Detector
from intelsec.privacy.dlp.engine import CandidateEngine, line_bounds, make_engine

LEAK = "leak"


def mask(value: str) -> str:
    """Keep at most the last 4 characters (fewer for short values), star the rest."""
    keep = min(4, len(value) // 4)
    return "*" * (len(value) - keep) + (value[-keep:] if keep else "")


class Finding:
    """One validated match. `value` is kept for masking, fingerprints and filters, never shown."""

    __slots__ = ("detector", "end", "line", "path", "severity", "start", "status", "value")

    def __init__(self, line: int, start: int, end: int, detector: str, severity: str, status: str = LEAK,
                 path: str = "", value: str = "") -> None:
        self.line = line  # 1-based
        self.start = start  # 0-based character offset in the line
        self.end = end  # exclusive
        self.detector = detector
        self.severity = severity
        self.status = status  # "leak" or the label of the fingerprint filter that knows the value
        self.path = path
        self.value = value

    def __repr__(self) -> str:
        return (f"Finding({self.path}:{self.line}:{self.start}-{self.end} {self.detector} {self.severity} "
                f"{self.status} {self.masked})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @property
    def masked(self) -> str:
        return mask(self.value)

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "start": self.start, "end": self.end,
                "detector": self.detector, "severity": self.severity, "masked": self.masked,
                "status": self.status}


def _order(f: Finding) -> tuple[int, int, str]:
    return (f.start, f.end, f.detector)


def _canonical(value: str) -> str:
    return "".join(c for c in value if c not in " -")


class Scanner:
    """Scans blocks of complete lines; holds no per-file state, so one instance serves a run."""

    def __init__(self, detectors: Sequence[Detector], engine: str | CandidateEngine = "auto",
                 filters: Sequence[KeyedFilter] = ()) -> None:
        self.detectors = list(detectors)
        self.engine = engine if isinstance(engine, CandidateEngine) else make_engine(self.detectors, engine)
        self.filters = list(filters)

    def status_of(self, value: str) -> str:
        for f in self.filters:
            if value in f:
                return f.label
        canon = _canonical(value)
        if canon != value:
            for f in self.filters:
                if canon in f:
                    return f.label
        return LEAK

    def scan_block(self, buf: bytes, first_line: int = 1, bad_utf8: list[int] | None = None,
                   path: str = "") -> list[Finding]:
        """Findings in `buf`, a block of whole lines; line numbers start at `first_line`.

        Lines that are not valid UTF-8 are decoded with invalid bytes escaped (one character
        each) and their numbers appended to `bad_utf8` when given.
        """
        starts, ends = line_bounds(buf)
        if bad_utf8 is not None:
            try:
                buf.decode("utf-8")
            except UnicodeDecodeError:
                for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
                    try:
                        buf[s:e].decode("utf-8")
                    except UnicodeDecodeError:
                        bad_utf8.append(first_line + i)
        dets = self.detectors
        filters = self.filters
        line_starts, line_ends = starts.tolist(), ends.tolist()
        out: list[Finding] = []
        findings: list[Finding] = []
        cur, raw, text, ascii_line, shift = -1, b"", "", True, 0
        for i, j, lo, last in self.engine.candidates(buf, starts, ends):
            if i != cur:
                if findings:
                    if len(findings) > 1:
                        findings.sort(key=_order)
                    out += findings
                    findings = []
                cur, shift = i, line_starts[i]
                raw = buf[shift:line_ends[i]]
                ascii_line = raw.isascii()
                text = "" if ascii_line else raw.decode("utf-8", "surrogateescape")
            det = dets[j]
            if last <= -2:  # exact match found by the engine
                end = -last - 2
                if ascii_line:
                    s, e = lo - shift, end - shift
                    value = raw[s:e].decode("ascii")
                else:
                    s = len(buf[shift:lo].decode("utf-8", "surrogateescape"))
                    e = s + len(buf[lo:end].decode("utf-8", "surrogateescape"))
                    value = text[s:e]
                findings.append(Finding(first_line + i, s, e, det.id, det.severity,
                                        self.status_of(value) if filters else LEAK, path, value))
                continue
            group = det.group
            validate = det.validator
            if ascii_line and not text:
                text = raw.decode("ascii")
            if det.builtin and ascii_line:  # byte offsets == character offsets on an ASCII line
                matches = det.bregex.finditer(buf, lo, line_ends[i])
                off = shift
            else:
                matches = det.regex.finditer(text)  # type: ignore[assignment]
                off, last = 0, -1
            for m in matches:
                s, e = m.span(group)
                s -= off
                e -= off
                if s != e:
                    value = text[s:e]
                    n = e - s if validate is None else validate(value, text, s)
                    if n is not None:
                        if n != e - s:
                            e = s + n
                            value = value[:n]
                        findings.append(Finding(first_line + i, s, e, det.id, det.severity,
                                                self.status_of(value) if filters else LEAK, path, value))
                if 0 <= last - 1 <= m.end():
                    break  # the last match the engine saw: nothing further on this line
        if len(findings) > 1:
            findings.sort(key=_order)
        out += findings
        return out

    def scan_text(self, text: str) -> Iterator[Finding]:
        """Findings in a string (one field value, possibly several lines)."""
        yield from self.scan_block(text.encode("utf-8", "surrogateescape"))
