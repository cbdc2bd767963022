"""DLP scan speed: MB/s per core on a generated mixed log corpus, against Presidio and detect-secrets.

    python benchmarks/dlp_speed.py            # 100 MB corpus (peers on a sample, scaled)
    python benchmarks/dlp_speed.py --quick    # 10 MB corpus

The corpus mixes nginx access lines (a client IP in every line), JSON application events and
CSV rows, with 10% of the lines carrying labelled PII or secrets from the evaluation generator.
intelsec scans the whole corpus in one process; its CPU time gives MB/s per core. Presidio (its
pattern recognizers for the same entity types, no NLP model: a blank spaCy pipeline) and
detect-secrets (the plugins matching our secret detectors) are much slower, so they run on a
random sample of the same lines and their rate is reported for that sample.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

PRESIDIO_ENTITIES = {"credit_card": "CREDIT_CARD", "us_ssn": "US_SSN", "email": "EMAIL_ADDRESS",
                     "ipv4": "IP_ADDRESS", "ipv6": "IP_ADDRESS", "iban": "IBAN_CODE"}
DETECT_SECRETS_PLUGINS = ["AWSKeyDetector", "GitHubTokenDetector", "SlackDetector", "PrivateKeyDetector",
                          "JwtTokenDetector", "StripeDetector"]


def _clean_lines(n: int, seed: int) -> list[str]:
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2:
            out.append(f'{fake.ipv4_public()} - - [{fake.date_time():%d/%b/%Y:%H:%M:%S} +0000] "'
                       f'{rng.choice(["GET", "POST", "PUT"])} {fake.uri_path()}?id={rng.randint(1, 99999)} HTTP/1.1" '
                       f'{rng.choice([200, 200, 200, 304, 404, 500])} {rng.randint(100, 99999)} "-" '
                       f'"{fake.user_agent()}" rt={rng.random():.3f}')
        else:
            out.append(f'{{"ts": "{fake.iso8601()}", "level": "{rng.choice(["info", "warn", "debug"])}", '
                       f'"service": "{fake.word()}-svc", "trace_id": "{fake.sha1()[:32]}", '
                       f'"msg": "{fake.sentence(nb_words=8)}", "latency_ms": {rng.randint(1, 900)}, '
                       f'"order": {rng.randint(10**9, 10**10)}}}')
    return out


def build_corpus(path: Path, size_mb: int, seed: int = 7) -> tuple[int, list[str]]:
    """Write about `size_mb` MB of mixed lines to `path`; returns (bytes, line pool)."""
    from intelsec.privacy.dlp.evalset import generate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dense = generate(3000, seed=seed).lines
    clean = _clean_lines(27000, seed)
    rng = random.Random(seed)
    pool = dense + clean
    target = size_mb * 1_000_000
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < target:
            batch = [rng.choice(dense) if rng.random() < 0.10 else rng.choice(clean) for _ in range(10000)]
            text = "\n".join(batch) + "\n"
            fh.write(text)
            written += len(text.encode())
    return written, pool


def bench_intelsec(path: Path, engine: str = "auto") -> tuple[float, float, int]:
    """(wall MB/s, MB/s per CPU-second, findings) for one process over the whole file."""
    from intelsec.privacy.dlp.detectors import BUILTINS
    from intelsec.privacy.dlp.files import FileScanner
    from intelsec.privacy.dlp.scanner import Scanner

    fs = FileScanner(Scanner(BUILTINS, engine))
    size = path.stat().st_size
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in fs.scan_paths([path]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return size / 1e6 / wall, size / 1e6 / cpu, n


def presidio_analyzer():  # type: ignore[no-untyped-def]
    """Presidio with pattern recognizers only: a blank spaCy pipeline, no model download."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacy(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers()
    nlp = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def bench_presidio(lines: list[str], chunk_lines: int = 200) -> tuple[float, int]:
    """MB/s (CPU) over `lines`, given to analyze() in chunks of `chunk_lines` lines."""
    analyzer = presidio_analyzer()
    entities = sorted(set(PRESIDIO_ENTITIES.values()))
    chunks = ["\n".join(lines[i:i + chunk_lines]) for i in range(0, len(lines), chunk_lines)]
    size = sum(len(c.encode()) + 1 for c in chunks)
    c0 = time.process_time()
    n = sum(len(analyzer.analyze(text=c, language="en", entities=entities)) for c in chunks)
    return size / 1e6 / (time.process_time() - c0), n


def bench_detect_secrets(path: Path) -> tuple[float, int]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import transient_settings

    size = path.stat().st_size
    with transient_settings({"plugins_used": [{"name": p} for p in DETECT_SECRETS_PLUGINS]}):
        coll = SecretsCollection()
        c0 = time.process_time()
        coll.scan_file(str(path))
        cpu = time.process_time() - c0
    return size / 1e6 / cpu, sum(len(v) for _, v in coll.data.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 MB corpus, small peer samples")
    ap.add_argument("--size-mb", type=int, default=None)
    ap.add_argument("--presidio-mb", type=float, default=None, help="sample size for Presidio")
    ap.add_argument("--detect-secrets-mb", type=float, default=None, help="sample size for detect-secrets")
    args = ap.parse_args(argv)
    size_mb = args.size_mb or (10 if args.quick else 100)
    p_mb = args.presidio_mb or (0.5 if args.quick else 2.0)
    ds_mb = args.detect_secrets_mb or (2.0 if args.quick else 10.0)

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.log"
        t = time.perf_counter()
        size, _ = build_corpus(corpus, size_mb)
        lines = corpus.read_text(encoding="utf-8").splitlines() if size < 50e6 else None
        print(f"corpus: {size / 1e6:.1f} MB mixed logs ({time.perf_counter() - t:.1f}s to generate)")

        wall, per_core, n = bench_intelsec(corpus)
        print(f"intelsec (hyperscan): {per_core:8.1f} MB/s per core  ({wall:.1f} MB/s wall, {n} findings, "
              f"{size / 1e6:.0f} MB)")

        rng = random.Random(1)
        if lines is None:
            with corpus.open(encoding="utf-8") as fh:
                lines = [ln.rstrip("\n") for _, ln in zip(range(600_000), fh, strict=False)]

        def sample(mb: float) -> list[str]:
            out, total = [], 0
            start = rng.randrange(0, max(1, len(lines) - 1))
            for ln in lines[start:] + lines[:start]:
                out.append(ln)
                total += len(ln) + 1
                if total >= mb * 1e6:
                    break
            return out

        re_lines = sample(min(size_mb, 5))
        re_file = Path(tmp) / "re_sample.log"
        re_file.write_text("\n".join(re_lines) + "\n", encoding="utf-8")
        _, re_rate, _ = bench_intelsec(re_file, "re")
        re_mb = re_file.stat().st_size / 1e6
        print(f"intelsec (re fallback): {re_rate:6.1f} MB/s per core  (on a {re_mb:.1f} MB sample)")

        p_lines = sample(p_mb)
        p_rate, p_n = bench_presidio(p_lines)
        print(f"presidio (patterns):  {p_rate:8.3f} MB/s per core  (on a {p_mb} MB sample, {p_n} results)")

        ds_file = Path(tmp) / "ds_sample.log"
        ds_file.write_text("\n".join(sample(ds_mb)) + "\n", encoding="utf-8")
        ds_rate, ds_n = bench_detect_secrets(ds_file)
        print(f"detect-secrets:       {ds_rate:8.3f} MB/s per core  (on a {ds_mb} MB sample, {ds_n} secrets)")

        print(f"ratio vs presidio:       {per_core / p_rate:8.1f}x   (goal >= 20x)")
        print(f"ratio vs detect-secrets: {per_core / ds_rate:8.1f}x")
        print(f"goal >= 50 MB/s per core: {'met' if per_core >= 50 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TLDEXTRACT_CACHE", tempfile.gettempdir())
    sys.exit(main())
