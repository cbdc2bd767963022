"""DLP over a RecordBatch: a pure function, so telemetry checks run per field, locally or on Spark.

The scanner is passed in (any object with `scan_block(bytes, first_line)` yielding findings, such
as `intelsec.privacy.dlp.scanner.Scanner`), which keeps this layer free of domain imports. Each
string column is joined into one newline-separated block and scanned once; findings map back to
(row, column, line within the value, character offsets within that line).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import pyarrow as pa

FINDINGS_SCHEMA = pa.schema([
    ("row", pa.int64()), ("column", pa.string()), ("line", pa.int32()), ("start", pa.int32()),
    ("end", pa.int32()), ("detector", pa.string()), ("severity", pa.string()), ("status", pa.string()),
    ("masked", pa.string()),
])


class FindingLike(Protocol):
    line: int
    start: int
    end: int
    detector: str
    severity: str
    status: str

    @property
    def masked(self) -> str: ...


class BlockScanner(Protocol):
    def scan_block(self, buf: bytes, first_line: int = 1) -> Iterable[FindingLike]: ...


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def scan_batch(batch: pa.RecordBatch, scanner: BlockScanner, columns: Sequence[str] | None = None) -> pa.RecordBatch:
    """Findings in the string columns of `batch` (all of them unless `columns` is given)."""
    names = list(columns) if columns is not None else [f.name for f in batch.schema if _is_text(f.type)]
    out: dict[str, list[object]] = {f.name: [] for f in FINDINGS_SCHEMA}
    for name in names:
        values = [v if v is not None else "" for v in batch.column(name).to_pylist()]
        if not values:
            continue
        # first line number of each row in the joined block
        first = np.cumsum([0] + [v.count("\n") + 1 for v in values[:-1]]) + 1
        block = "\n".join(values).encode("utf-8", "surrogateescape")
        for f in scanner.scan_block(block, 1):
            row = int(np.searchsorted(first, f.line, side="right")) - 1
            for key, val in (("row", row), ("column", name), ("line", f.line - int(first[row]) + 1),
                             ("start", f.start), ("end", f.end), ("detector", f.detector),
                             ("severity", f.severity), ("status", f.status), ("masked", f.masked)):
                out[key].append(val)
    return pa.RecordBatch.from_pydict(out, schema=FINDINGS_SCHEMA)
