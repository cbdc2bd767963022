"""The hyperscan engine and the pure-`re` fallback give identical findings."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intelsec.privacy.dlp.detectors import BUILTINS, user_detector
from intelsec.privacy.dlp.engine import HyperscanEngine, ReEngine
from intelsec.privacy.dlp.scanner import Scanner

FRAGMENTS = [
    "4111 1111 1111 1111", "4111111111111111", "378282246310005", "536-22-1234", "000-12-3456",
    "alice@example.com", "a..b@x.io", "10.0.0.1", "256.1.1.1", "2001:db8::1", "fe80::1ff:fe23:4567:890a",
    "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "AKIAZ3MQXJ7PLW4QRST2",
    "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNk", "secret=", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "-----BEGIN RSA PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "EMP-123456", "caf\u00e9", "\u0663\u0664\u0665", " ", ", ", "=", '"', "::",
    ".", "-", "\t", "12:30:45", "\r",
]
USER = [user_detector("employee_id", r"EMP-\d{6}", "medium"),
        user_detector("luhny", r"(?i)acct[:=](?P<value>\d{8,12})", "high", luhn=True),
        user_detector("cafe", "caf\u00e9", "low"),  # non-ASCII: runs through re on every line
        user_detector("anchored", r"^\s*secret=", "low")]


DETS = [*BUILTINS, *USER]
SCANNERS = {cls: Scanner(DETS, cls(DETS)) for cls in (HyperscanEngine, ReEngine)}


def _scan(engine_cls: type, text: str) -> list[tuple]:
    sc = SCANNERS[engine_cls]
    return [(f.line, f.start, f.end, f.detector, f.value) for f in sc.scan_block(text.encode("utf-8"))]


def _corpus(seed: int, lines: int = 400) -> str:
    rng = random.Random(seed)
    return "\n".join("".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 12))) for _ in range(lines))


def test_identical_on_mixed_corpus() -> None:
    for seed in range(5):
        text = _corpus(seed)
        hs = _scan(HyperscanEngine, text)
        assert hs == _scan(ReEngine, text)
        assert len({f[3] for f in hs}) >= 12  # the corpus exercises most detectors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=25))
def test_identical_on_random_text(parts: list[str]) -> None:
    text = "".join(parts)
    assert _scan(HyperscanEngine, text) == _scan(ReEngine, text)


def test_unsupported_user_pattern_falls_back_per_line() -> None:
    dets = [*BUILTINS, *USER]
    eng = HyperscanEngine(dets)
    assert [dets[i].id for i in eng.always] == ["cafe"]


def test_window_edges_match_whole_line_search() -> None:
    """Hyperscan windows start late and stop early; look-arounds must still see the real line."""
    lines = ["1.2.3.4 5.6.7.89999", "x1.2.3.4 1.2.3.4", "1.2.3.4.5 10.0.0.1", "4111111111111111 41111111111111119",
             "536-22-1234 536-22-12345 536-22-1234", "a@b.co a@b.co1 c@d.org", "10.0.0.1" + " " * 30 + "10.0.0.2x",
             "AKIAZ3MQXJ7PLW4QRST2 Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNkX"]
    text = "\n".join(lines)
    assert _scan(HyperscanEngine, text) == _scan(ReEngine, text)
    assert [f[4] for f in _scan(HyperscanEngine, text) if f[0] == 1] == ["1.2.3.4"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="0123456789.:- \n\raf_x@é", max_size=80))
def test_identical_on_digit_soup(text: str) -> None:
    """Dotted numbers, separators and line breaks: where the exact and windowed paths could slip."""
    assert _scan(HyperscanEngine, text) == _scan(ReEngine, text)
