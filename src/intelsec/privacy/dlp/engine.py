"""Candidate engines: which detectors may match on which line of a block of lines.

The scanner runs each detector's Python regex and validator only on the (line, detector) pairs an
engine proposes. `HyperscanEngine` compiles every pattern in hyperscan's prefilter mode (a
superset of the regex: it never misses a line the regex matches) and scans a whole block at
once; `ReEngine` asks each regex directly, line by line. Findings are therefore identical, and
hyperscan only decides how much work is skipped. The one shortcut: a validator-free detector may
declare an `exact` hyperscan pattern (IPv4 does) whose matches are the regex's matches plus their
boundary characters; its findings then come from hyperscan alone. The tests hold both engines to
identical output on generated and random text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from intelsec.privacy.dlp.detectors import Detector

# (line index in block, detector index, search start, last end): byte offsets in the block. The
# detector's regex searches the line from `search start`, and may stop once a match ends at or
# after `last end - 1` (-1: search the whole line). `last end` <= -2 encodes an exact match found
# by the engine itself: the value is buf[search start : -last end - 2]. See HyperscanEngine.
# Sorted by line.
Candidates = list[tuple[int, int, int, int]]


def line_bounds(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without the newline) byte offsets of each line in `buf`."""
    nl = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
    ends = nl if buf.endswith(b"\n") or not buf else np.append(nl, len(buf))
    starts = np.concatenate(([0], nl[: len(ends) - 1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
    return starts.astype(np.int64), ends.astype(np.int64)


class CandidateEngine(ABC):
    name: str

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.detectors = list(detectors)

    @abstractmethod
    def candidates(self, buf: bytes, starts: np.ndarray, ends: np.ndarray) -> Candidates:
        """Lines of `buf` (bounded by `starts`/`ends`) and the detectors worth running on each."""


class ReEngine(CandidateEngine):
    """Pure-Python fallback: search every detector regex on every line."""

    name = "re"

    def candidates(self, buf: bytes, starts: np.ndarray, ends: np.ndarray) -> Candidates:
        out: Candidates = []
        regexes = [d.regex for d in self.detectors]
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            text = buf[s:e].decode("utf-8", "surrogateescape")
            out.extend((i, j, s, -1) for j, rx in enumerate(regexes) if rx.search(text))
        return out


def _hs_friendly(pattern: str) -> bool:
    """Patterns hyperscan sees over bytes exactly as `re` sees them over text (ASCII, no \\A/\\Z)."""
    return pattern.isascii() and not any(tok in pattern for tok in ("\\A", "\\Z", "\\z", "\\G"))


class HyperscanEngine(CandidateEngine):
    """One hyperscan database over all patterns in prefilter mode; the rest fall back to `re`.

    Built-in detectors also get a window: hyperscan reports where candidate matches end (at most
    one byte late, with their `prefilter` terminator), so every true match starts at or after
    `first end - longest match - 1` and ends by `last end`; the regex skips the rest of the line.
    Detectors with a hand-written `prefilter` (exact hyperscan syntax, no look-arounds) are compiled
    with leftmost start-of-match, so their window starts at the earliest candidate start.
    Look-arounds still see the real neighbouring bytes, so results equal a whole-line search.
    """

    name = "hyperscan"

    def __init__(self, detectors: Sequence[Detector]) -> None:
        import hyperscan

        super().__init__(detectors)
        self._hs = hyperscan
        flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_MULTILINE
        ok: list[int] = []
        for i, d in enumerate(self.detectors):
            if d.builtin or (_hs_friendly(d.pattern) and self._compiles(d, flags)):
                ok.append(i)
        self.always = [i for i in range(len(self.detectors)) if i not in set(ok)]
        self._fallback = ReEngine([self.detectors[i] for i in self.always]) if self.always else None
        # window slack per detector: its longest match, or -1 for "whole line" (unbounded or user)
        self._width = np.array([d.width if d.builtin and d.width is not None else -1 for d in self.detectors],
                               dtype=np.int64)
        som = [bool(d.builtin and (d.prefilter or d.exact)) for d in self.detectors]
        self._exact = np.array([bool(d.builtin and d.exact) for d in self.detectors], dtype=bool)
        self._som = np.array(som, dtype=bool)
        exact = hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_SOM_LEFTMOST
        self._db = None
        if ok:
            self._db = hyperscan.Database()
            exprs = [self._expr(self.detectors[i]) for i in ok]
            try:
                self._db.compile(expressions=exprs, ids=ok,
                                 flags=[(exact if som[i] else flags) | self._case(self.detectors[i]) for i in ok])
            except hyperscan.error:  # start-of-match tracking too costly: plain prefilter for all
                self._som[:] = False
                self._exact[:] = False
                exprs = [self._expr(self.detectors[i], exact=False) for i in ok]
                self._db.compile(expressions=exprs, ids=ok, flags=[flags | self._case(self.detectors[i]) for i in ok])

    @staticmethod
    def _expr(d: Detector, exact: bool = True) -> bytes:
        return ((d.exact if exact else None) or d.prefilter or d.pattern).encode("ascii")

    def _case(self, d: Detector) -> int:
        import re

        return self._hs.HS_FLAG_CASELESS if d.flags & re.IGNORECASE else 0

    def _compiles(self, d: Detector, flags: int) -> bool:
        db = self._hs.Database()
        try:
            db.compile(expressions=[self._expr(d)], ids=[0], flags=[flags | self._case(d)])
        except self._hs.error:
            return False
        return True

    def candidates(self, buf: bytes, starts: np.ndarray, ends: np.ndarray) -> Candidates:
        ids: list[int] = []
        froms: list[int] = []
        tos: list[int] = []
        if self._db is not None and buf:
            def on_match(id_: int, from_: int, to: int, _flags: int, _ctx: object) -> None:
                ids.append(id_)
                froms.append(from_)
                tos.append(to)

            self._db.scan(buf, match_event_handler=on_match)
        out: Candidates = []
        if ids:
            nd = len(self.detectors)
            id_ = np.asarray(ids, dtype=np.int64)
            to = np.asarray(tos, dtype=np.int64)
            fr = np.asarray(froms, dtype=np.int64)
            ex = self._exact[id_]
            if ex.any():
                out = self._exact_spans(buf, ends, id_[ex], fr[ex], to[ex])
                id_, to, fr = id_[~ex], to[~ex], fr[~ex]
        if len(ids) and len(to):
            lines = np.minimum(np.searchsorted(ends, to - 1, side="left"), len(ends) - 1)
            keys = lines * nd + id_
            order = np.argsort(keys, kind="stable")
            keys, to, fr = keys[order], to[order], fr[order]
            uniq, first = np.unique(keys, return_index=True)
            line, det = np.divmod(uniq, nd)
            s = starts[line]
            width = self._width[det]
            lo = np.where(self._som[det], np.maximum(s, np.minimum.reduceat(fr, first)),
                          np.where(width < 0, s, np.maximum(s, np.minimum.reduceat(to, first) - width - 1)))
            hi = np.where(width < 0, -1, np.maximum.reduceat(to, first))
            out += zip(line.tolist(), det.tolist(), lo.tolist(), hi.tolist(), strict=True)
            out.sort()
        if self._fallback is not None:
            out.extend((i, self.always[j], s, e) for i, j, s, e in self._fallback.candidates(buf, starts, ends))
            out.sort()
        return out

    @staticmethod
    def _exact_spans(buf: bytes, ends: np.ndarray, det: np.ndarray, fr: np.ndarray, to: np.ndarray) -> Candidates:
        """Trim the boundary chars off `exact` matches (values start and end with a digit)."""
        arr = np.frombuffer(buf, dtype=np.uint8)
        digit = (arr >= 48) & (arr <= 57)
        start = fr + ~digit[fr]
        end = to.copy()
        for _ in range(2):  # the right boundary is at most two chars (".x")
            back = ~digit[end - 1]
            end -= back
        _, first = np.unique(start * len(digit) + det, return_index=True)  # one report per value
        start, det, end = start[first], det[first], end[first]
        line = np.searchsorted(ends, start, side="left")
        return list(zip(line.tolist(), det.tolist(), start.tolist(), (-end - 2).tolist(), strict=True))


def make_engine(detectors: Sequence[Detector], name: str = "auto") -> CandidateEngine:
    """`auto` picks hyperscan when it imports, else the `re` fallback."""
    if name == "re":
        return ReEngine(detectors)
    try:
        return HyperscanEngine(detectors)
    except ImportError:
        if name == "hyperscan":
            raise
        return ReEngine(detectors)
