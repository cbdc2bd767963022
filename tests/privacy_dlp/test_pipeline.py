"""The pure RecordBatch scan maps findings back to row, column and offsets within the value."""

from __future__ import annotations

import pyarrow as pa
import pytest

from intelsec.pipeline.dlp import FINDINGS_SCHEMA, scan_batch
from intelsec.privacy.dlp.detectors import BUILTINS
from intelsec.privacy.dlp.scanner import Scanner


def test_scan_batch_per_field() -> None:
    batch = pa.RecordBatch.from_pydict({
        "id": [1, 2, 3, 4],
        "note": ["hello", None, "multi\nline 4111111111111111", "ssn 536-22-1234"],
        "email": ["a@example.com", "none", None, "b@example.org"],
    })
    out = scan_batch(batch, Scanner(BUILTINS))
    assert out.schema == FINDINGS_SCHEMA
    rows = sorted(zip(*(out.column(c).to_pylist() for c in ("row", "column", "line", "start", "end", "detector")),
                      strict=True))
    assert rows == [(0, "email", 1, 0, 13, "email"), (2, "note", 2, 5, 21, "credit_card"),
                    (3, "email", 1, 0, 13, "email"), (3, "note", 1, 4, 15, "us_ssn")]
    assert "4111111111111111" not in str(out.to_pydict())
    only = scan_batch(batch, Scanner(BUILTINS), columns=["note"])
    assert set(only.column("column").to_pylist()) == {"note"}


def test_empty_and_non_text() -> None:
    batch = pa.RecordBatch.from_pydict({"n": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    assert scan_batch(batch, Scanner(BUILTINS)).num_rows == 0
    with pytest.raises(KeyError):
        scan_batch(batch, Scanner(BUILTINS), columns=["missing"])
