"""Precision and recall per detector on a labelled set generated in this run (Faker + look-alikes)."""

from __future__ import annotations

import os
import warnings

import pytest

from intelsec.privacy.dlp.detectors import BUILTINS
from intelsec.privacy.dlp.evalset import Score, evaluate, generate
from intelsec.privacy.dlp.scanner import Scanner

FLOOR = 0.98  # every built-in detector is structured (a checksum, a prefix or a fixed shape)


@pytest.fixture(scope="module")
def evalset():
    seed = int(os.environ.get("DLP_EVAL_SEED", "20261204"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about short demo HMAC keys
        return generate(4000, seed=seed)


@pytest.mark.parametrize("engine", ["hyperscan", "re"])
def test_floors_per_detector(evalset, engine: str) -> None:
    scanner = Scanner(BUILTINS, engine)
    pred = [(f.line, f.start, f.end, f.detector) for f in scanner.scan_block(evalset.text().encode())]
    scores = evaluate(pred, evalset.labels)
    assert set(scores) == {d.id for d in BUILTINS}
    low = {d: (round(s.precision, 4), round(s.recall, 4)) for d, s in scores.items()
           if s.precision < FLOOR or s.recall < FLOOR}
    assert low == {}
    assert all(s.tp >= 100 for s in scores.values())  # enough support for the floors to mean something


def test_evaluate_counts_span_and_detector_exactly() -> None:
    labels = {(1, 0, 4, "email"), (2, 3, 9, "ipv4")}
    scores = evaluate([(1, 0, 4, "email"), (2, 3, 8, "ipv4"), (3, 0, 1, "ipv4")], labels)
    assert (scores["email"].tp, scores["ipv4"].tp, scores["ipv4"].fp, scores["ipv4"].fn) == (1, 0, 2, 1)
    assert Score().precision == 1.0 and Score(tp=1, fn=1).recall == 0.5
