"""Policy decisions/s through `Engine.decide`, against raw regorus `eval_rule` on the same inputs.

    python benchmarks/policy.py [--quick]

The ratio shows what the wrapper (JSON input, reason extraction, Decision model) costs on top of
the embedded interpreter.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import regorus

from intelsec.config import Workspace
from intelsec.policy.workspace import engine_for_workspace
from intelsec.workspace.scaffold import init_workspace


def inputs(n: int) -> list[dict[str, object]]:
    rng = random.Random(7)
    hosts = ["payments.vendors.com", "telemetry.example.com", "pastebin.com", "x.io", "files.example.net"]
    cats = ["unknown", "unknown", "code-hosting", "paste-sites"]
    return [{"ns": rng.choice(["prod", "dev", "staging"]),
             "dest": {"host": rng.choice(hosts), "category": rng.choice(cats)}} for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 5_000 if ap.parse_args().quick else 50_000
    docs = inputs(n)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "w"
        init_workspace(root)
        engine = engine_for_workspace(Workspace.load(root))
        start = time.perf_counter()
        denied = sum(1 for d in docs if engine.decide("data.egress.deny", d).allowed is False)
        ours = n / (time.perf_counter() - start)

        raw = regorus.Engine()
        for src in engine.sources:
            raw.add_policy(src.path, src.text)
        raw.add_data_json(json.dumps({"workspace": {"egress": {"allowlist": {
            "namespaces": {"prod": ["payments.vendors.com", "telemetry.example.com"]}}}}}))
        start = time.perf_counter()
        raw_denied = 0
        for d in docs:
            raw.set_input_json(json.dumps(d))
            raw_denied += 1 if raw.eval_rule("data.egress.deny") else 0
        peer = n / (time.perf_counter() - start)
    assert denied == raw_denied, (denied, raw_denied)
    print(f"inputs: {n}, denied: {denied}")
    print(f"Engine.decide        : {ours:10.0f} decisions/s")
    print(f"raw regorus eval_rule: {peer:10.0f} decisions/s")
    print(f"ratio (ours / raw)   : {ours / peer:10.2f}x")


if __name__ == "__main__":
    main()
