"""Tokenize telemetry files end to end: read, tokenize per schema on a process pool, write, account.

Outputs per input: the tokenized file, `<out>.meta.json` (key id/version, counts; Parquet also
carries the key in its footer metadata) and `<out>.quarantine.jsonl` listing `file:line` and the
reason for every record left out (never the record itself: it may hold plaintext).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from intelsec.errors import located
from intelsec.fingerprints import KeyedFilter
from intelsec.pipeline.runner import run_local
from intelsec.pipeline.tokenize import TokenizePlan, check_record, tokenize_batch
from intelsec.privacy.keys.interface import DataKey
from intelsec.privacy.telemetry_io import Writer, detect_format, read_batches
from intelsec.privacy.telemetry_schema import TelemetrySchema


@dataclass
class Summary:
    records: int = 0
    written: int = 0
    fields_tokenized: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)

    @property
    def tokens_per_minute(self) -> float:
        return self.fields_tokenized / self.seconds * 60 if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "written": self.written, "fields_tokenized": self.fields_tokenized,
                "quarantined": self.quarantined, "seconds": round(self.seconds, 3),
                "tokens_per_minute": round(self.tokens_per_minute), "outputs": self.outputs}


def schema_digest(schema: TelemetrySchema) -> str:
    return hashlib.sha256(schema.model_dump_json().encode()).hexdigest()[:16]


def make_plan(schema: TelemetrySchema, key: DataKey) -> TokenizePlan:
    fields = tuple(sorted((p, schema.spec(p).type, tuple(sorted(schema.spec(p).options().items())),
                           schema.spec(p).tweak_name(p)) for p in schema.fields))
    return TokenizePlan(fields=fields, undeclared=schema.undeclared, alg=key.alg, key=key.material)


def output_paths(inputs: list[Path], out: Path) -> list[Path]:
    if len(inputs) == 1 and not out.is_dir():
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    return [out / p.name for p in inputs]


def tokenize_files(inputs: list[Path], out: Path, schema: TelemetrySchema, key: DataKey, *,
                   workers: int = 1, batch_size: int = 5000, fingerprints: KeyedFilter | None = None,
                   on_batch: Callable[[int], None] | None = None) -> Summary:
    for p in inputs:
        if not p.is_file():
            raise _input_error(p)
        detect_format(p)
    pairs = list(zip(inputs, output_paths(inputs, out), strict=True))
    for src, dst in pairs:
        if dst.resolve() == src.resolve():
            raise _input_error(src, "the output would overwrite this input; choose another -o")
    plan = make_plan(schema, key)
    fn = partial(tokenize_batch, plan=plan)
    summary = Summary()
    started = time.perf_counter()
    for src, dst in pairs:
        fmt = detect_format(src)
        meta = {"key_id": key.key_id, "key_version": key.version, "alg": key.alg,
                "schema_digest": schema_digest(schema), "source": src.name}
        writer = Writer(dst, fmt, meta, _parquet_schema(src) if fmt == "parquet" else None)
        qpath = dst.with_name(dst.name + ".quarantine.jsonl")
        counts = {"records": 0, "written": 0, "quarantined": 0, "fields_tokenized": 0}
        with qpath.open("w", encoding="utf-8") as qfh:
            try:
                for res in run_local(fn, read_batches(src, batch_size), workers=workers):
                    n_in = res.records.num_rows + res.quarantine.num_rows
                    counts["records"] += n_in
                    counts["written"] += res.records.num_rows
                    counts["quarantined"] += res.quarantine.num_rows
                    counts["fields_tokenized"] += res.fields_tokenized
                    writer.write(res.records)
                    for line, reason in zip(res.quarantine.column("line").to_pylist(),
                                            res.quarantine.column("reason").to_pylist(), strict=True):
                        qfh.write(json.dumps({"file": str(src), "line": line, "reason": reason,
                                              "where": located(src, line, reason)}) + "\n")
                    if fingerprints is not None:
                        fingerprints.update(set(res.tokens))
                    if on_batch:
                        on_batch(n_in)
            finally:
                writer.close()
        if counts["quarantined"] == 0:
            qpath.unlink()
        meta.update(counts, created_at=datetime.now(UTC).isoformat())
        if fmt != "parquet":
            dst.with_name(dst.name + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        summary.records += counts["records"]
        summary.written += counts["written"]
        summary.quarantined += counts["quarantined"]
        summary.fields_tokenized += counts["fields_tokenized"]
        summary.outputs.append(str(dst))
    summary.seconds = time.perf_counter() - started
    return summary


def _parquet_schema(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path).remove_metadata()
    except pa.ArrowException as exc:
        raise _input_error(path, f"not a Parquet file: {exc}") from None


def _input_error(p: Path, why: str = "no such file") -> Exception:
    from intelsec.errors import InputError

    return InputError(f"{p}: {why}")


def check_files(inputs: list[Path], schema: TelemetrySchema, is_token: Callable[[str], bool],
                batch_size: int = 5000) -> tuple[int, list[str]]:
    """(records checked, `file:line: path: reason` for every field not tokenized per schema)."""
    kinds: dict[str, str] = {p: schema.spec(p).type for p in schema.fields}
    problems: list[str] = []
    records = 0
    for src in inputs:
        if not src.is_file():
            raise _input_error(src)
        for batch in read_batches(src, batch_size):
            for line, text in zip(batch.column("line").to_pylist(), batch.column("record").to_pylist(), strict=True):
                records += 1
                try:
                    doc = json.loads(text)
                    found = check_record(doc, kinds, schema.undeclared, is_token)
                except (ValueError, RecursionError):
                    problems.append(located(src, line, "<record>: not JSON"))
                    continue
                problems += [located(src, line, p) for p in found]
    return records, problems
