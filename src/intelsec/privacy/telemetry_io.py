"""Streaming readers and writers for telemetry files: JSONL (plain or .gz), CSV and Parquet.

Readers yield `pipeline.tokenize` input batches (line number + record as JSON text), a few
thousand records at a time, so memory stays constant whatever the file size.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from intelsec.errors import InputError, located
from intelsec.pipeline.tokenize import READER_ERROR, batch_of

FORMATS = ("jsonl", "csv", "parquet")


def detect_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise InputError(f"{path}: unknown format; use .jsonl/.ndjson (optionally .gz), .csv or .parquet")


def _open_text(path: Path, mode: str, errors: str = "strict") -> IO[str]:
    if path.name.lower().endswith(".gz"):
        raw: Any = gzip.open(path, mode.replace("t", "") + "b")  # noqa: SIM115 - wrapped and closed by caller
        return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, newline="")
    return open(path, mode, encoding="utf-8", errors=errors, newline="")


def _record_text(text: str) -> str:
    """`text`, or a reader's reason when it cannot be a record (invalid UTF-8, a leading NUL)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes came through as lone surrogates
            return READER_ERROR + "not valid UTF-8"
    if text.startswith(READER_ERROR):
        return READER_ERROR + "not JSON: starts with a NUL character"
    return text


def read_batches(path: Path, batch_size: int = 5000) -> Iterator[pa.RecordBatch]:
    """Input batches of `path`; a file that cannot be read at all (broken gzip, not Parquet) raises
    InputError naming it, after the batches read so far."""
    try:
        yield from _read_batches(path, batch_size)
    except (OSError, EOFError, zlib.error, csv.Error, pa.ArrowException) as exc:
        raise InputError(located(path, None, f"cannot read: {exc}")) from None


def _read_batches(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        row = 0
        for b in pf.iter_batches(batch_size=batch_size):
            rows = b.to_pylist()
            yield batch_of(list(range(row + 1, row + len(rows) + 1)),
                           [json.dumps(r, ensure_ascii=False, default=str) for r in rows])
            row += len(rows)
        return
    lines: list[int] = []
    records: list[str] = []
    with _open_text(path, "rt", errors="surrogateescape") as fh:
        if fmt == "jsonl":
            for n, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                lines.append(n)
                records.append(_record_text(text))
                if len(records) >= batch_size:
                    yield batch_of(lines, records)
                    lines, records = [], []
        else:
            reader = csv.DictReader(fh)
            for rec in reader:
                lines.append(reader.line_num)
                records.append(_record_text(json.dumps(rec, ensure_ascii=False)) if None not in rec
                               else READER_ERROR + "CSV row has more fields than the header")
                if len(records) >= batch_size:
                    yield batch_of(lines, records)
                    lines, records = [], []
    if records:
        yield batch_of(lines, records)


class Writer:
    """Writes tokenized batches in the input's format; Parquet carries `metadata` in its footer."""

    def __init__(self, path: Path, fmt: str, metadata: dict[str, Any], source_schema: pa.Schema | None = None) -> None:
        self.path, self.fmt, self.metadata, self.source_schema = path, fmt, metadata, source_schema
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = _open_text(path, "wt") if fmt != "parquet" else None
        self._csv: csv.DictWriter[str] | None = None
        self._pq: Any = None
        self._schema: pa.Schema | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        records = batch.column("record").to_pylist()
        if not records:
            return
        if self.fmt == "jsonl":
            assert self._fh is not None
            self._fh.write("\n".join(records) + "\n")
            return
        rows = [json.loads(r) for r in records]
        if self.fmt == "csv":
            assert self._fh is not None
            if self._csv is None:
                self._csv = csv.DictWriter(self._fh, fieldnames=list(rows[0]), extrasaction="ignore")
                self._csv.writeheader()
            self._csv.writerows(rows)
            return
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows)  # types inferred per batch: a column may be all null in one
        if self._pq is None:
            target = self._restore_types(table)
            self._schema = target.schema.with_metadata({"intelsec.tokenization": json.dumps(self.metadata)})
            self._pq = pq.ParquetWriter(self.path, self._schema)
        assert self._schema is not None
        try:
            table = table.select(self._schema.names).cast(self._schema.remove_metadata())
        except (KeyError, pa.ArrowException) as exc:
            raise InputError(f"{self.path}: records do not fit the columns written so far ({exc})") from None
        self._pq.write_table(table.replace_schema_metadata(self._schema.metadata))

    def _restore_types(self, table: pa.Table) -> pa.Table:
        """Give columns back their source types (timestamps came through JSON as text) where they still fit."""
        if self.source_schema is None:
            return table
        names = set(self.source_schema.names)
        target = pa.schema([self.source_schema.field(n) if n in names else table.schema.field(n)
                            for n in table.column_names])
        try:
            return table.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return table

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()
        elif self.fmt == "parquet":  # nothing written: still leave a valid, empty file with metadata
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}).replace_schema_metadata({"intelsec.tokenization": json.dumps(self.metadata)}),
                           self.path)


def read_parquet_metadata(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"intelsec.tokenization")
    return json.loads(raw) if raw else {}
