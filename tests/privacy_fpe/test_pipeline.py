"""The pure batch function and the local runner (what a Spark job would reuse)."""

from __future__ import annotations

import json
from functools import partial

from intelsec.pipeline.runner import run_local
from intelsec.pipeline.tokenize import batch_of, check_record, tokenize_batch, undeclared_paths
from intelsec.privacy.keys.interface import DataKey
from intelsec.privacy.telemetry_schema import TelemetrySchema
from intelsec.privacy.tokenize_run import make_plan

KEY = DataKey("k", 1, "ff1", bytes(32))


def plan(fields: dict, undeclared: str = "keep"):  # type: ignore[no-untyped-def,type-arg]
    return make_plan(TelemetrySchema(undeclared=undeclared, fields=fields), KEY)  # type: ignore[arg-type]


def test_groups_share_tokens_and_fields_do_not() -> None:
    rec = json.dumps({"a": "10.0.0.1", "b": "10.0.0.1", "c": "10.0.0.1", "d": ["10.0.0.1", "10.0.0.2"]})
    p = plan({"a": {"type": "ip", "group": "net"}, "b": {"type": "ip", "group": "net"}, "c": "ip", "d": "ip"})
    out = tokenize_batch(batch_of([1], [rec]), p)
    doc = json.loads(out.records.column("record")[0].as_py())
    assert doc["a"] == doc["b"] != doc["c"] and doc["a"] != "10.0.0.1"
    assert doc["d"][0] != doc["c"] and len(set(doc["d"])) == 2 and out.fields_tokenized == 5
    assert set(out.tokens) == {doc["a"], doc["c"], *doc["d"]}


def test_batch_function_is_pure_and_quarantines_whole_records() -> None:
    p = plan({"user.email": "email", "secret": "drop"}, undeclared="drop")
    recs = [json.dumps({"user": {"email": "alice.smith@example.com", "name": "Alice"}, "secret": "s"}),
            json.dumps({"user": {"email": ["ok.person@example.com", "x@y.io"]}}),
            "[1, 2]"]
    b = batch_of([10, 11, 12], recs)
    first, second = tokenize_batch(b, p), tokenize_batch(b, p)
    assert first.records.equals(second.records)
    assert first.records.column("line").to_pylist() == [10]
    assert json.loads(first.records.column("record")[0].as_py())["user"].keys() == {"email"}
    reasons = dict(zip(first.quarantine.column("line").to_pylist(), first.quarantine.column("reason").to_pylist()))
    assert set(reasons) == {11, 12} and "fewer than 4" in reasons[11] and "not a JSON object" in reasons[12]
    assert "ok.person" not in first.records.column("record")[0].as_py()


def test_undeclared_paths_respects_declared_subtrees() -> None:
    doc = {"http": {"request": {"body": "x", "size": 3}}, "user": {"email": "e", "name": "n"}, "empty": {}}
    assert undeclared_paths(doc, {"http.request": "drop", "user.email": "email"}) == ["user.name"]


def test_run_local_keeps_order_on_a_process_pool() -> None:
    p = plan({"n": "digits"})
    batches = [batch_of([i], [json.dumps({"n": f"{i:08d}"})]) for i in range(12)]
    fn = partial(tokenize_batch, plan=p)
    pooled = [r.records.column("line")[0].as_py() for r in run_local(fn, batches, workers=2, max_inflight=3)]
    assert pooled == list(range(12))
    inline = [r.records.column("record")[0].as_py() for r in run_local(fn, batches)]
    again = [r.records.column("record")[0].as_py() for r in run_local(fn, batches, workers=2)]
    assert inline == again


def test_a_field_spelled_two_ways_is_quarantined_not_half_tokenized() -> None:
    p = plan({"user.email": "email", "http.request.body": "drop", "event.action": "keep"})
    recs = [json.dumps({"user.email": "flat.one@example.com", "user": {"email": "nested.one@example.com"}}),
            json.dumps({"user": {"a": 1}, "http.request": {"body": "secret body"}}),
            json.dumps({"user": {"email": "plain.two@example.com"}, "event.action": "x", "event": {"action": "y"}})]
    out = tokenize_batch(batch_of([1, 2, 3], recs), p)
    reasons = dict(zip(out.quarantine.column("line").to_pylist(), out.quarantine.column("reason").to_pylist()))
    assert "user.email: spelled both" in reasons[1] and "http.request.body: spelled both" in reasons[2]
    assert out.records.column("line").to_pylist() == [3]  # a kept field may be spelled any way
    assert "plain.two" not in out.records.column("record")[0].as_py()
    listed = tokenize_batch(batch_of([4], [json.dumps({"user": [{"email": "in.list@example.com"}],
                                                      "http": [{"request": {"body": "secret"}}, 1]})]), p)
    assert listed.quarantine.column("reason").to_pylist() == [
        "field http.request.body: runs through a list of objects (paths do not reach into lists)"]
    assert check_record({"http": [{"request": {"body": "s"}}]}, p.kinds, "keep", lambda v: True) == [
        "http.request.body: runs through a list of objects"]
    deep = tokenize_batch(batch_of([5], ["[" * 100_000 + "]" * 100_000]), p)
    assert deep.quarantine.column("reason").to_pylist() == ["not JSON: nested too deeply"]
    assert check_record(json.loads(recs[0]), p.kinds, "keep", lambda v: True) == [
        "user.email: spelled both as a flat key and nested"]
