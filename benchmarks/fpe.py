"""Tokenization throughput per core: FF1 and FF3-1 batch paths vs the PyPI `ff3` package.

Inputs: 16-digit numeric strings and e-mail addresses (local part and domain name tokenized over
radix 36, separators and public suffix kept). The `ff3` peer runs FF3-1 on exactly the same
inputs, one value at a time (its only API), with the same e-mail splitting.

    python benchmarks/fpe.py            # 100k values
    python benchmarks/fpe.py --quick    # 10k values
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections.abc import Callable

from intelsec.privacy.fpe import FF1, FF31
from intelsec.privacy.tokenizers import (
    LOWER36,
    EmailTokenizer,
    _join_core,
    _split_lower,
    split_domain,
    tweak_for,
)

KEY = bytes(range(16))
TWEAK7 = bytes(range(7))


def rate(fn: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return count / best


def make_inputs(n: int) -> tuple[list[str], list[str]]:
    rnd = random.Random(42)
    nums = ["".join(rnd.choices(string.digits, k=16)) for _ in range(n)]
    first = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]
    last = ["smith", "jones", "garcia", "miller", "davis", "martinez", "lopez", "wilson", "anderson", "thomas"]
    domains = [f"{w}{i}" for i in range(200) for w in ("corp", "mail", "example")]
    tlds = ["com", "co.uk", "io", "org", "de"]
    emails = [f"{rnd.choice(first)}.{rnd.choice(last)}{rnd.randint(1, 999)}@{rnd.choice(domains)}.{rnd.choice(tlds)}"
              for _ in range(n)]
    return nums, emails


def ff3_email(local_c: object, domain_c: object, emails: list[str]) -> list[str]:
    out = []
    for e in emails:
        local, _, domain = e.lower().rpartition("@")
        name, suffix = split_domain(domain)
        lcore, lseps = _split_lower(local)  # the same parsing helpers as ours: only the FPE differs
        dcore, dseps = _split_lower(name)
        lt = local_c.encrypt(lcore)  # type: ignore[attr-defined]
        dt = domain_c.encrypt(dcore)  # type: ignore[attr-defined]
        out.append(f"{_join_core(lt, lseps)}@{_join_core(dt, dseps)}.{suffix}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-n", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    peer_n = max(1000, n // 20)
    nums, emails = make_inputs(n)
    from ff3 import FF3Cipher

    ff1, ff31 = FF1(KEY, b"bench"), FF31(KEY, TWEAK7)
    peer = FF3Cipher(KEY.hex(), TWEAK7.hex())
    assert ff31.encrypt_batch(nums[:200]) == [peer.encrypt(v) for v in nums[:200]]  # same algorithm, same bits

    r_ff1 = rate(lambda: ff1.encrypt_batch(nums), n)
    r_ff31 = rate(lambda: ff31.encrypt_batch(nums), n)
    r_peer = rate(lambda: [peer.encrypt(v) for v in nums[:peer_n]], peer_n)

    e_ff1, e_ff31 = EmailTokenizer(KEY, "user.email", "ff1"), EmailTokenizer(KEY, "user.email", "ff3-1")
    pl = FF3Cipher.withCustomAlphabet(KEY.hex(), tweak_for("user.email", "email/local", "ff3-1").hex(), LOWER36)
    pd = FF3Cipher.withCustomAlphabet(KEY.hex(), tweak_for("user.email", "email/domain", "ff3-1").hex(), LOWER36)
    assert ff3_email(pl, pd, emails[:200]) == e_ff31.tokenize(emails[:200]).values  # identical tokens
    re_ff1 = rate(lambda: e_ff1.tokenize(emails), n)
    re_ff31 = rate(lambda: e_ff31.tokenize(emails), n)
    re_peer = rate(lambda: ff3_email(pl, pd, emails[:peer_n]), peer_n)

    print(f"inputs: {n} values per run (ff3 peer: {peer_n}), single process, best of 3")
    print(f"{'input':<22}{'FF1 tok/s':>14}{'FF3-1 tok/s':>14}{'ff3 pkg tok/s':>16}{'FF3-1/ff3':>11}{'FF1/ff3':>9}")
    for label, a, b, p in (("16-digit numeric", r_ff1, r_ff31, r_peer), ("email", re_ff1, re_ff31, re_peer)):
        print(f"{label:<22}{a:>14,.0f}{b:>14,.0f}{p:>16,.0f}{b / p:>10.1f}x{a / p:>8.1f}x")


if __name__ == "__main__":
    main()
