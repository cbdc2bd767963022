"""DLP accuracy: precision/recall per detector on a labelled set generated from a seed.

    python benchmarks/dlp_accuracy.py                 # 20,000 lines, both engines, Presidio on 2,000
    python benchmarks/dlp_accuracy.py --quick         # 3,000 lines, Presidio on 500
    python benchmarks/dlp_accuracy.py --seed 42 --no-presidio

The set (intelsec.privacy.dlp.evalset) mixes log, JSON and CSV lines holding valid values of every
detector next to invalid look-alikes. A finding counts as a true positive only when line, exact
span and detector match a label. Presidio (pattern recognizers, blank spaCy pipeline) is scored
on the entity types it shares with us, on the first lines of the same set, with the same rule.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from intelsec.privacy.dlp.detectors import BUILTINS
from intelsec.privacy.dlp.evalset import EvalSet, Score, evaluate, generate
from intelsec.privacy.dlp.scanner import Scanner

PRESIDIO = {"CREDIT_CARD": "credit_card", "US_SSN": "us_ssn", "EMAIL_ADDRESS": "email", "IBAN_CODE": "iban"}


def score_intelsec(es: EvalSet, engine: str) -> dict[str, Score]:
    sc = Scanner(BUILTINS, engine)
    pred = [(f.line, f.start, f.end, f.detector) for f in sc.scan_block(es.text().encode())]
    return evaluate(pred, es.labels)


def score_presidio(es: EvalSet, n_lines: int) -> dict[str, Score]:
    from dlp_speed import presidio_analyzer

    analyzer = presidio_analyzer()
    entities = [*PRESIDIO, "IP_ADDRESS"]
    pred = []
    for no, line in enumerate(es.lines[:n_lines], start=1):
        for r in analyzer.analyze(text=line, language="en", entities=entities):
            det = PRESIDIO.get(r.entity_type) or ("ipv6" if ":" in line[r.start:r.end] else "ipv4")
            pred.append((no, r.start, r.end, det))
    shared = {*PRESIDIO.values(), "ipv4", "ipv6"}
    labels = {lab for lab in es.labels if lab[0] <= n_lines and lab[3] in shared}
    return evaluate(pred, labels)


def table(title: str, scores: dict[str, Score]) -> None:
    print(f"\n{title}")
    print(f"  {'detector':24} {'tp':>6} {'fp':>5} {'fn':>5} {'precision':>10} {'recall':>8}")
    for det, s in scores.items():
        print(f"  {det:24} {s.tp:6} {s.fp:5} {s.fn:5} {s.precision:10.4f} {s.recall:8.4f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lines", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--no-presidio", action="store_true")
    args = ap.parse_args(argv)
    n = args.lines or (3000 if args.quick else 20000)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = generate(n, seed=args.seed)
    print(f"evaluation set: {n} lines, {len(es.labels)} labelled values, seed {args.seed} "
          f"({time.perf_counter() - t:.1f}s)")
    worst = 1.0
    for engine in ("hyperscan", "re"):
        scores = score_intelsec(es, engine)
        table(f"intelsec ({engine})", scores)
        worst = min(worst, *(min(s.precision, s.recall) for s in scores.values()))
    if not args.no_presidio:
        p_lines = min(n, 500 if args.quick else 2000)
        table(f"presidio (pattern recognizers, first {p_lines} lines, shared entity types)",
              score_presidio(es, p_lines))
    print(f"\nlowest intelsec precision/recall: {worst:.4f} (floor 0.98)")
    return 0 if worst >= 0.98 else 1


if __name__ == "__main__":
    sys.exit(main())
