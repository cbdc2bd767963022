"""The scanner: candidate lines from an engine, then regex spans, validators and token filters.

Findings carry the matched value so the caller can mask, fingerprint or classify it; the value
never appears in `repr` and is never written out (see `mask`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from intelsec.fingerprints import KeyedFilter
from intelsec.privacy.dlp.detectors import Detector
from intelsec.privacy.dlp.engine import CandidateEngine, line_bounds, make_engine

LEAK = "leak"


def mask(value: str) -> str:
    """Keep at most the last 4 characters (fewer for short values), star the rest."""
    keep = min(4, len(value) // 4)
    return "*" * (len(value) - keep) + (value[-keep:] if keep else "")


@dataclass(slots=True)
class Finding:
    line: int  # 1-based
    start: int  # 0-based character offset in the line
    end: int  # exclusive
    detector: str
    severity: str
    status: str = LEAK  # or the label of the fingerprint filter that knows the value
    path: str = ""
    value: str = field(default="", repr=False)

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

    def scan_block(self, buf: bytes, first_line: int = 1, bad_utf8: list[int] | None = None) -> Iterator[Finding]:
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
        for i, hit in self.engine.candidates(buf, starts, ends):
            text = buf[int(starts[i]):int(ends[i])].decode("utf-8", "surrogateescape")
            line: list[Finding] = []
            for j in hit:
                det = dets[j]
                group = det.group
                validate = det.validator
                for m in det.regex.finditer(text):
                    s, e = m.span(group)
                    if s == e:
                        continue
                    value = text[s:e]
                    if validate is not None:
                        n = validate(value, text, s)
                        if n is None:
                            continue
                        if n != e - s:
                            e = s + n
                            value = value[:n]
                    line.append(Finding(first_line + i, s, e, det.id, det.severity,
                                        self.status_of(value) if filters else LEAK, "", value))
            if len(line) > 1:
                line.sort(key=_order)
            yield from line

    def scan_text(self, text: str) -> Iterator[Finding]:
        """Findings in a string (one field value, possibly several lines)."""
        yield from self.scan_block(text.encode("utf-8", "surrogateescape"))
