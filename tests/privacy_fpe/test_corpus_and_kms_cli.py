"""Real data and a real KMS peer: Hubble flows from the shared corpus, keys held by a moto KMS server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clirunner import invoke

HUBBLE = "hubble/hubble-otel.basic-sample-330-dns-flows.jsonl"
SCHEMA = ("version: 1\nundeclared: keep\nfields:\n  flow.IP.source: {type: ip, group: flow-ip}\n"
          "  flow.IP.destination: {type: ip, group: flow-ip}\n")


def _ips(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            ip = json.loads(line).get("flow", {}).get("IP", {})
            out.append((ip.get("source"), ip.get("destination")))
    return out


def test_tokenize_hubble_flows_with_kms_keys(corpus_dir: Path, workspace_dir: Path, tmp_path: Path, moto_kms: str,
                                             kms_key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Keys wrapped by AWS KMS (a local moto_server: the real service is out of reach), real Hubble flows."""
    cfg = workspace_dir / "intelsec.yaml"
    cfg.write_text(cfg.read_text() + f"privacy:\n  keys:\n    provider: aws-kms\n    aws_kms: {{key_id: {kms_key}, "
                                      f"endpoint_url: '{moto_kms}'}}\n")
    ws = str(workspace_dir)
    r = invoke(capsys, "privacy", "keys", "create", "-w", ws, "--format", "json")
    assert r.code == 0 and json.loads(r.out)[0]["provider"] == "aws-kms", r.err
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA)
    src, out = corpus_dir / HUBBLE, tmp_path / "flows.tok.jsonl"
    r = invoke(capsys, "privacy", "tokenize", "-w", ws, "--schema", str(schema), str(src), "-o", str(out),
               "--format", "json")
    assert r.code == 0, r.err
    before, after = _ips(src), _ips(out)
    assert len(before) == len(after) == json.loads(r.out)["records"] > 300
    pairs = {(b, a) for bb, aa in zip(before, after) for b, a in zip(bb, aa) if b}
    assert all(a != b for b, a in pairs)
    # one token per address across both fields (same group): source/destination joins survive
    assert len({a for _, a in pairs}) == len({b for b, _ in pairs}) == len(pairs)
    r = invoke(capsys, "privacy", "tokenize", "-w", ws, "--schema", str(schema), "--check", str(out))
    assert r.code == 0, r.out
    some_token = next(a for _, a in sorted(pairs))
    original = next(b for b, a in sorted(pairs) if a == some_token)
    r = invoke(capsys, "privacy", "detokenize", "-w", ws, "--schema", str(schema), "--field", "flow.IP.source",
               "--reason",
               "corpus round trip", some_token)
    assert r.code == 0 and r.out.strip() == original
