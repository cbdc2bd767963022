"""`intelsec privacy tokenize` end to end: formats, quarantine, metadata, fingerprints, --check."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.clirunner import invoke

PLAIN = ["alice.smith@example.com", "carol.jones@corp.example.org", "acct-00042", "10.1.2.3", "2001:db8::1",
         "4111 1111 1111 1111", "very-secret-body"]
GOOD = [
    {"user": {"email": "alice.smith@example.com", "id": "acct-00042"}, "source": {"ip": "10.1.2.3"},
     "destination": {"ip": "2001:db8::1"}, "event": {"action": "login"}, "payment": {"card": "4111 1111 1111 1111"},
     "http": {"request": {"body": "very-secret-body"}}},
    {"user": {"email": "carol.jones@corp.example.org"}, "source": {"ip": "10.1.2.3"}, "event": {"action": "logout"}},
]


@pytest.fixture
def ws(workspace_dir: Path, master_key: str, capsys: pytest.CaptureFixture[str]) -> Path:
    assert invoke(capsys, "privacy", "keys", "create", "-w", str(workspace_dir)).code == 0
    return workspace_dir


def write_mixed_jsonl(path: Path) -> None:
    lines = [json.dumps(GOOD[0]), "{broken json", json.dumps(GOOD[1]), json.dumps({"user": {"email": 7}}),
             json.dumps({"source": {"ip": "999.1.1.1"}}), "", json.dumps({"user": {"email": "a@b.io"}})]
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt") as fh:  # type: ignore[operator]
        fh.write("\n".join(lines) + "\n")


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_tokenize_then_check_mixed_jsonl(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         name: str) -> None:
    src, out = tmp_path / name, tmp_path / f"tok-{name}"
    write_mixed_jsonl(src)
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), str(src), "-o", str(out), "--format", "json")
    assert r.code == 1, r.err  # records were quarantined
    summary = json.loads(r.out)
    assert (summary["records"], summary["written"], summary["quarantined"]) == (6, 2, 4)
    assert summary["fields_tokenized"] == 7 and summary["key_version"] == 1
    with gzip.open(out, "rt") if name.endswith(".gz") else out.open() as fh:
        raw = fh.read()
    for p in PLAIN:
        assert p not in raw
    assert len(raw.splitlines()) == 2 and "login" in raw
    quarantine = [json.loads(x) for x in (tmp_path / f"tok-{name}.quarantine.jsonl").read_text().splitlines()]
    assert [q["line"] for q in quarantine] == [2, 4, 5, 7]
    assert "not JSON" in quarantine[0]["reason"] and "expected a string" in quarantine[1]["reason"]
    assert quarantine[1]["where"].startswith(f"{src}:4: ")
    assert all("alice" not in json.dumps(q) for q in quarantine)
    meta = json.loads((tmp_path / f"tok-{name}.meta.json").read_text())
    assert (meta["key_id"], meta["key_version"], meta["alg"]) == ("telemetry", 1, "ff1")
    from intelsec.config import Workspace
    from intelsec.store.db import Database
    from intelsec.store.runs import recent_runs

    run = recent_runs(Database(Workspace.load(ws).database_url()), "privacy.tokenize")[0]
    assert run.status == "failed" and run.summary["fields_tokenized"] == 7  # feeds the tokens/min metric
    # the output passes --check; the plaintext input does not, listing file:line: path
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), "--check", str(out))
    assert r.code == 0, r.out + r.err
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), "--check", str(src))
    assert r.code == 1 and f"{src}:1: user.email: not a token" in r.out and "http.request.body: declared drop" in r.out


def test_same_value_same_token_across_records_and_fingerprints(ws: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from intelsec.fingerprints import classify, load_all

    src, out = tmp_path / "a.jsonl", tmp_path / "a.tok.jsonl"
    src.write_text("\n".join(json.dumps(d) for d in GOOD) + "\n")
    assert invoke(capsys, "privacy", "tokenize", "-w", str(ws), str(src), "-o", str(out)).code == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0]["source"]["ip"] == rows[1]["source"]["ip"] != "10.1.2.3"
    filters = load_all(ws / ".intelsec")
    assert classify(rows[0]["user"]["email"], filters) == "tokenized"
    assert classify("alice.smith@example.com", filters) is None


def test_csv_and_parquet_with_process_pool(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text("version: 1\nundeclared: fail\nfields:\n  email: email\n  ip: {type: ipv4, prefix4: 8}\n"
                      "  note: drop\n  n: keep\n  ts: keep\n")
    rows = [{"email": f"user{i}.name@example.com", "ip": f"10.0.{i % 256}.{i % 200}", "note": "plain secret",
             "n": str(i)} for i in range(300)]
    with (tmp_path / "in.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        fh.write("x@example.com,1.2.3.4,n,1,EXTRA\n")
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    pq.write_table(pa.Table.from_pylist([r | {"ts": when} for r in rows]), tmp_path / "in.parquet")
    outdir = tmp_path / "out"
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), "--schema", str(schema), "-j", "2", "--batch-size", "64",
               str(tmp_path / "in.csv"), str(tmp_path / "in.parquet"), "-o", str(outdir), "--format", "json")
    assert r.code == 1 and json.loads(r.out)["quarantined"] == 1, r.err
    q = (outdir / "in.csv.quarantine.jsonl").read_text()
    assert ":302: CSV row has more fields" in q
    out_csv = list(csv.DictReader((outdir / "in.csv").open()))
    assert len(out_csv) == 300 and set(out_csv[0]) == {"email", "ip", "n"}
    assert all(o["ip"].startswith("10.") and o["email"].endswith("@" + out_csv[0]["email"].split("@")[1])
               for o in out_csv)
    assert not any(o["email"] == i["email"] for o, i in zip(out_csv, rows))
    table = pq.read_table(outdir / "in.parquet")
    assert table.num_rows == 300 and "note" not in table.column_names
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC") and table.column("ts")[0].as_py() == when
    meta = json.loads(table.schema.metadata[b"intelsec.tokenization"])
    assert meta["key_id"] == "telemetry" and meta["key_version"] == 1
    assert table.column("email").to_pylist() == [o["email"] for o in out_csv]  # deterministic across formats
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), "--schema", str(schema), "--check",
               str(outdir / "in.csv"), str(outdir / "in.parquet"))
    assert r.code == 0, r.out


def test_without_workspace_uses_keyring_and_fingerprints_dir(tmp_path: Path, master_key: str,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ring = tmp_path / "ring.json"
    assert invoke(capsys, "privacy", "keys", "create", "--keyring", str(ring)).code == 0
    schema = tmp_path / "s.yaml"
    schema.write_text("fields:\n  email: email\n")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"email": "alice.smith@example.com"}) + "\n")
    r = invoke(capsys, "privacy", "tokenize", "--schema", str(schema), "--keyring", str(ring), str(src),
               "-o", str(tmp_path / "o.jsonl"))
    assert r.code == 0 and "not recorded" in r.err
    r = invoke(capsys, "privacy", "tokenize", "--schema", str(schema), "--keyring", str(ring), "--fingerprints",
               str(tmp_path / "fp"), str(src), "-o", str(tmp_path / "o2.jsonl"))
    assert r.code == 0
    r = invoke(capsys, "privacy", "tokenize", "--schema", str(schema), "--fingerprints", str(tmp_path / "fp"),
               "--check", str(tmp_path / "o2.jsonl"))
    assert r.code == 0, r.err


@pytest.mark.parametrize(("args", "needle"), [
    (["missing.jsonl", "-o", "x.jsonl"], "no such file"),
    (["in.txt", "-o", "x.jsonl"], "unknown format"),
    (["in.jsonl"], "-o/--output"),
    (["--key", "nope", "in.jsonl", "-o", "x.jsonl"], "no key 'nope'"),
    (["in.jsonl", "-o", "in.jsonl"], "would overwrite this input"),
    (["in.jsonl", "-o", "."], "would overwrite this input"),
])
def test_tokenize_bad_invocations(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, args: list[str], needle: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "in.jsonl").write_text("{}\n")
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), *args)
    assert r.code in (1, 2) and needle in r.err, r.err


def test_bad_schema_names_file_and_line(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("version: 1\nfields:\n  a: email\n  b: ssn\n")
    (tmp_path / "in.jsonl").write_text("{}\n")
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), "--schema", str(schema), str(tmp_path / "in.jsonl"),
               "-o", str(tmp_path / "o.jsonl"))
    assert r.code == 2 and str(schema) in r.err


def test_unreadable_records_and_files(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid UTF-8 and a leading NUL are quarantined without their text; a file that is not what its
    name says is one clear error naming it."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"user": {"email": "\xff\xfe.secret@example.com"}}\n'
                    b'\x00{"user": {"email": "nul.secret@example.com"}}\n'
                    b'{"user": {"email": "fine.person@example.com"}}\n')
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), str(src), "-o", str(tmp_path / "o.jsonl"))
    assert r.code == 1, r.err
    q = (tmp_path / "o.jsonl.quarantine.jsonl").read_text()
    assert ":1: not valid UTF-8" in q and ":2: not JSON: starts with a NUL" in q and "secret" not in q
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 1
    for name, data in (("x.jsonl.gz", b"not gzip"), ("x.parquet", b"PAR1"), ("x.csv", b"a\n" + b"b" * 200_000)):
        (tmp_path / name).write_bytes(data)
        r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), str(tmp_path / name), "-o", str(tmp_path / "out"))
        assert r.code == 2 and r.err.startswith(f"error: {tmp_path / name}: "), r.err
        assert "Traceback" not in r.err and "unexpected" not in r.err


def test_parquet_column_null_in_the_first_batch(ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("fields:\n  email: email\n  note: keep\n")
    rows = [{"email": f"user{i}.name@example.com", "note": None if i < 100 else f"n{i}"} for i in range(200)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), "--schema", str(schema), "--batch-size", "64",
               str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.parquet"))
    assert r.code == 0, r.err
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.field("note").type == pa.string() and table.column("note").to_pylist()[99:101] == [None, "n100"]
    assert not set(table.column("email").to_pylist()) & {r["email"] for r in rows}


def test_tokens_written_before_a_failing_input_stay_known(ws: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from intelsec.fingerprints import classify, load_all

    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD[1]) + "\n")
    (tmp_path / "b.jsonl.gz").write_bytes(b"not gzip")
    r = invoke(capsys, "privacy", "tokenize", "-w", str(ws), str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl.gz"),
               "-o", str(tmp_path / "out"))
    assert r.code == 2 and "b.jsonl.gz: cannot read" in r.err
    token = json.loads((tmp_path / "out" / "a.jsonl").read_text())["user"]["email"]
    assert classify(token, load_all(ws / ".intelsec")) == "tokenized"
