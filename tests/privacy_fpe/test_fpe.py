"""FF1/FF3-1 properties: round trips, batch == scalar, agreement with the `ff3` package, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intelsec.privacy.fpe import BASE62, FF1, FF31, FPEError, FPEValueError, cipher, min_length

KEY = bytes(range(16))
TWEAK7 = bytes(range(7))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 62).flatmap(lambda r: st.tuples(
    st.just(r), st.lists(st.text(alphabet=BASE62[:r], min_size=min_length(r), max_size=40), min_size=1,
                         max_size=8))),
       st.sampled_from(["ff1", "ff3-1"]))
def test_round_trip_and_batch_equals_scalar(case: tuple[int, list[str]], alg: str) -> None:
    radix, values = case
    c = cipher(alg, KEY, TWEAK7, radix)
    values = [v[: c.maxlen] for v in values if len(v[: c.maxlen]) >= c.minlen] or ["0" * c.minlen]
    enc = c.encrypt_batch(values)
    assert [len(x) for x in enc] == [len(v) for v in values]
    assert all(set(x) <= set(BASE62[:radix]) for x in enc)
    assert enc == [c.encrypt(v) for v in values]
    assert c.decrypt_batch(enc) == values


def test_matches_ff3_package_on_random_inputs() -> None:
    ff3 = pytest.importorskip("ff3")
    import random

    rnd = random.Random(7)
    for radix in (10, 26, 36, 62):
        peer = ff3.FF3Cipher(KEY.hex(), TWEAK7.hex(), radix)
        ours = FF31(KEY, TWEAK7, radix)
        vals = ["".join(rnd.choice(BASE62[:radix]) for _ in range(rnd.randint(ours.minlen, 30)))
                for _ in range(50)]
        assert ours.encrypt_batch(vals) == [peer.encrypt(v) for v in vals]


def test_long_values_use_big_integer_path() -> None:
    c = FF1(KEY, b"t", 10)
    v = "9" * 200
    assert c.decrypt(c.encrypt(v)) == v
    assert c.encrypt_batch([v, "12345678"]) == [c.encrypt(v), c.encrypt("12345678")]


def test_different_tweaks_give_different_tokens() -> None:
    assert FF1(KEY, b"a").encrypt("1234567890") != FF1(KEY, b"b").encrypt("1234567890")


def test_custom_unicode_alphabet() -> None:
    alpha = "αβγδεζηθικ"
    c = FF1(KEY, b"", 10, alpha)
    enc = c.encrypt("αβγδεζηθ")
    assert set(enc) <= set(alpha) and c.decrypt(enc) == "αβγδεζηθ"


@pytest.mark.parametrize(("make", "needle"), [
    (lambda: FF1(b"short", b""), "16, 24 or 32 bytes"),
    (lambda: FF31(KEY, bytes(8)), "exactly 7 bytes"),
    (lambda: FF1(KEY, b"", 10, "0123"), "radix is 10"),
    (lambda: FF1(KEY, b"", 3, "aab"), "repeated"),
    (lambda: FF1(KEY, b"", 100), "custom alphabet"),
    (lambda: FF1(KEY, b"", 1), "outside 2..65536"),
    (lambda: FF31(KEY, TWEAK7, 1 << 17, "".join(map(chr, range(0x100, 0x100 + (1 << 17))))), "outside 2..65536"),
    (lambda: cipher("ff3", KEY, TWEAK7), "unknown algorithm"),
])
def test_bad_parameters(make, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FPEError, match=needle):
        make()


def test_domain_below_minimum_is_refused_with_reason() -> None:
    with pytest.raises(FPEValueError, match=r"below the FF1 minimum of 6 .*1,000,000"):
        FF1(KEY, b"").encrypt("12345")
    with pytest.raises(FPEValueError, match="minimum of 20"):
        FF1(KEY, b"", 2).encrypt("1" * 19)


def test_ff3_1_maximum_length() -> None:
    c = FF31(KEY, TWEAK7)
    assert c.maxlen == 56
    with pytest.raises(FPEValueError, match="maximum of 56"):
        c.encrypt("1" * 57)


def test_character_outside_alphabet_names_position_not_value() -> None:
    with pytest.raises(FPEValueError) as err:
        FF1(KEY, b"").encrypt_batch(["12345678", "1234x678"])
    assert err.value.index == 1 and "position 4" in str(err.value) and "1234x678" not in str(err.value)
    with pytest.raises(FPEValueError):
        FF1(KEY, b"").encrypt("12345é78")


def test_repr_hides_key() -> None:
    assert KEY.hex() not in repr(FF1(KEY, b"")) and "radix=10" in repr(FF31(KEY, TWEAK7))
