"""FF1 and FF3-1 format-preserving encryption (NIST SP 800-38G Rev. 1), batch-first.

The batch path groups values by length and runs the Feistel rounds over the whole group: per round
one AES-ECB call for every row (the CBC-MAC prefix that does not depend on the data is computed
once) and numpy arithmetic on uint64 numerals. Halves whose numeral space exceeds 2^56 fall back to
Python integers for the arithmetic, still with one AES call per round for the batch.

FF1 is the default. FF3-1 is kept for compatibility with tokens made elsewhere (e.g. Vault
Transform): NIST's 2025 draft revision of SP 800-38G withdraws FF3/FF3-1 after published attacks.

Errors name the rule that was broken, never the key or the value.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from intelsec.errors import InputError

BASE62 = string.digits + string.ascii_lowercase + string.ascii_uppercase
DOMAIN_MIN = 1_000_000
FAST_LIMIT = 1 << 56  # radix**m at or below this runs in uint64 arithmetic
U64 = np.uint64


class FPEError(InputError, ValueError):
    """A key, tweak, alphabet or value that FF1/FF3-1 cannot accept (message says why)."""


class FPEValueError(FPEError):
    """One value of a batch is unusable; `index` is its position in the batch."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"value #{index}: {reason}")
        self.index = index
        self.reason = reason


def min_length(radix: int) -> int:
    """Smallest n with radix**n >= 1,000,000 (SP 800-38G Rev. 1 domain requirement)."""
    n = 1
    while radix**n < DOMAIN_MIN:
        n += 1
    return max(n, 2)


class Alphabet:
    """Characters <-> digits for one radix, vectorised over equal-length strings."""

    def __init__(self, radix: int, alphabet: str | None) -> None:
        if not 2 <= radix <= 1 << 16:
            raise FPEError(f"radix {radix} is outside 2..65536")
        if alphabet is None:
            if radix > len(BASE62):
                raise FPEError(f"radix {radix} needs a custom alphabet (the default alphabet covers 2..62)")
            alphabet = BASE62[:radix]
        if len(alphabet) != radix:
            raise FPEError(f"alphabet has {len(alphabet)} characters but radix is {radix}")
        if len(set(alphabet)) != len(alphabet):
            raise FPEError("alphabet has repeated characters")
        self.chars = alphabet
        self.charset = frozenset(alphabet)
        self.radix = radix
        self.ascii = all(ord(c) < 128 for c in alphabet)
        codes = np.array([ord(c) for c in alphabet], dtype=np.uint32)
        self.codes = codes.astype(np.uint8) if self.ascii else codes
        self.lut = np.full(256 if self.ascii else int(codes.max()) + 1, -1, dtype=np.int32)
        self.lut[codes] = np.arange(radix, dtype=np.int32)

    def to_digits(self, values: Sequence[str], n: int, rows: Sequence[int]) -> np.ndarray:
        """(len(values), n) int64 digits; raises FPEValueError naming the first bad row."""
        joined = "".join(values)
        if self.ascii:
            try:
                raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
            except UnicodeEncodeError:
                raw = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        else:
            raw = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        inside = raw < len(self.lut)
        digits = self.lut[np.where(inside, raw, 0)]
        bad = ~inside | (digits < 0)
        if bad.any():
            first = int(np.argmax(bad))
            row, pos = divmod(first, n)
            raise FPEValueError(rows[row], f"character at position {pos} is not in the alphabet")
        return digits.reshape(len(values), n).astype(np.int64)

    def to_strings(self, digits: np.ndarray) -> list[str]:
        n = digits.shape[1]
        chars = self.codes[digits]
        text = chars.tobytes().decode("ascii" if self.ascii else "utf-32-le")
        return [text[i : i + n] for i in range(0, len(text), n)]


def _num(digits: np.ndarray, radix: int) -> np.ndarray:
    """Big-endian numeral of each row as uint64 (caller guarantees it fits)."""
    acc = np.zeros(digits.shape[0], dtype=U64)
    r = U64(radix)
    for j in range(digits.shape[1]):
        acc = acc * r + digits[:, j].astype(U64)
    return acc


def _str(nums: np.ndarray, radix: int, m: int) -> np.ndarray:
    """Big-endian m-digit representation of each uint64 in radix."""
    out = np.empty((nums.shape[0], m), dtype=np.int64)
    r = U64(radix)
    x = nums.copy()
    for j in range(m - 1, -1, -1):
        out[:, j] = (x % r).astype(np.int64)
        x //= r
    return out


def _mod_bytes(blocks: np.ndarray, modulus: int) -> np.ndarray:
    """Big-endian integer of each byte row, reduced mod `modulus` (<= 2^56), in uint64."""
    if modulus <= 1 << 32:
        width, dt = 4, ">u4"
    elif modulus <= 1 << 48:
        width, dt = 2, ">u2"
    else:
        width, dt = 1, ">u1"
    cols = blocks.shape[1]
    if cols % width:
        blocks = np.concatenate([np.zeros((blocks.shape[0], width - cols % width), np.uint8), blocks], axis=1)
    chunks = np.ascontiguousarray(blocks).view(dt).astype(U64)
    m = U64(modulus)
    shift = U64(8 * width)
    acc = np.zeros(blocks.shape[0], dtype=U64)
    for k in range(chunks.shape[1]):
        acc = ((acc << shift) | chunks[:, k]) % m
    return acc


class _Base:
    """Shared key/alphabet handling and the batch driver (group by length, restore order)."""

    name = "fpe"
    rounds = 10
    _enc: Any  # the AES-ECB encryptor, set by the subclass

    def __init__(self, key: bytes, radix: int, alphabet: str | None) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) not in (16, 24, 32):
            size = len(key) if isinstance(key, bytes | bytearray) else "?"
            raise FPEError(f"{self.name} key must be 16, 24 or 32 bytes (AES-128/192/256), got {size} bytes")
        self.alpha = Alphabet(radix, alphabet)
        self.radix = radix
        self.minlen = min_length(radix)
        self.maxlen = 2**32 - 1

    def __repr__(self) -> str:  # never show key material
        return f"{type(self).__name__}(radix={self.radix})"

    def _check_len(self, n: int, index: int) -> None:
        if n < self.minlen:
            raise FPEValueError(index, (
                f"{n} characters is below the {self.name} minimum of {self.minlen} for radix {self.radix} "
                f"(NIST SP 800-38G Rev. 1 requires radix^minlen >= 1,000,000)"))
        if n > self.maxlen:
            raise FPEValueError(index, f"{n} characters is above the {self.name} maximum of {self.maxlen} "
                                       f"for radix {self.radix}")

    def problem(self, value: str) -> str | None:
        """Why `value` cannot be encrypted (None when it can): a cheap check before batching."""
        n = len(value)
        if n < self.minlen or n > self.maxlen:
            try:
                self._check_len(n, 0)
            except FPEValueError as exc:
                return exc.reason
        if not self.alpha.charset.issuperset(value):
            return "a character is not in the alphabet"
        return None

    def _ecb(self, data: bytes) -> bytes:
        return self._enc.update(data)

    def encrypt(self, value: str) -> str:
        return self.encrypt_batch([value])[0]

    def decrypt(self, value: str) -> str:
        return self.decrypt_batch([value])[0]

    def encrypt_batch(self, values: Sequence[str]) -> list[str]:
        return self._batch(values, encrypt=True)

    def decrypt_batch(self, values: Sequence[str]) -> list[str]:
        return self._batch(values, encrypt=False)

    def encrypt_digits(self, digits: np.ndarray) -> np.ndarray:
        """Encrypt rows of digits (N, n) in 0..radix-1 directly (no string conversion)."""
        self._check_len(digits.shape[1], 0)
        return self._feistel(digits.astype(np.int64), True)

    def decrypt_digits(self, digits: np.ndarray) -> np.ndarray:
        self._check_len(digits.shape[1], 0)
        return self._feistel(digits.astype(np.int64), False)

    def _batch(self, values: Sequence[str], encrypt: bool) -> list[str]:
        groups: dict[int, list[int]] = {}
        for i, v in enumerate(values):
            groups.setdefault(len(v), []).append(i)
        out: list[str] = [""] * len(values)
        for n, rows in groups.items():
            self._check_len(n, rows[0])
            group = [values[i] for i in rows]
            digits = self.alpha.to_digits(group, n, rows)
            for i, s in zip(rows, self.alpha.to_strings(self._feistel(digits, encrypt)), strict=True):
                out[i] = s
        return out

    def _feistel(self, digits: np.ndarray, encrypt: bool) -> np.ndarray:
        raise NotImplementedError


class FF1(_Base):
    """FF1 (SP 800-38G Rev. 1 §6.2): the default mode; any tweak length."""

    name = "FF1"

    def __init__(self, key: bytes, tweak: bytes = b"", radix: int = 10, alphabet: str | None = None) -> None:
        super().__init__(key, radix, alphabet)
        if not isinstance(tweak, bytes | bytearray) or len(tweak) > 1 << 16:
            raise FPEError("FF1 tweak must be bytes of at most 65536 bytes")
        self.tweak = bytes(tweak)
        self._enc = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()  # noqa: S305 - FF1 PRF
        self._prefix: dict[int, tuple[int, int, int, bytes]] = {}

    def _setup(self, n: int) -> tuple[int, int, int, bytes]:
        """(b, d, q_len, CBC-MAC state after P and the data-independent part of Q) for length n."""
        if n in self._prefix:
            return self._prefix[n]
        u, v = n // 2, n - n // 2
        # b = ceil(ceil(v * log2(radix)) / 8), computed exactly with integers
        b = (_ceil_log2_pow(self.radix, v) + 7) // 8
        d = 4 * ((b + 3) // 4) + 4
        t = len(self.tweak)
        p = (bytes([1, 2, 1]) + self.radix.to_bytes(3, "big") + bytes([10, u % 256]) + n.to_bytes(4, "big")
             + t.to_bytes(4, "big"))
        pad = (-t - b - 1) % 16
        fixed = self.tweak + bytes(pad)  # Q = T || 0^pad || [i] || NUM(B)^b
        q_len = len(fixed) + 1 + b
        state = bytes(16)
        msg = p + fixed
        # every whole block before [i] || NUM(B) is data-independent: fold it in once per length
        nfixed = (len(p) + len(fixed)) // 16
        for k in range(nfixed):
            blk = msg[16 * k : 16 * k + 16]
            state = self._ecb(bytes(x ^ y for x, y in zip(state, blk, strict=True)))
        self._prefix[n] = (b, d, q_len, state + msg[16 * nfixed :])
        return self._prefix[n]

    def _round_y(self, n: int, i: int, nums: Any, fast: bool, modulus: int) -> Any:
        """y mod radix^m for every row, given NUM_radix(B) (uint64 array or list of ints)."""
        b, d, _, pre = self._setup(n)
        state, rest = pre[:16], pre[16:]
        rows = len(nums)
        if 1 + b <= 16:
            tail = bytearray(rest + bytes([i]) + bytes(b))
            assert len(tail) == 16
            base = np.frombuffer(bytes(x ^ y for x, y in zip(state, tail, strict=True)), np.uint8)
            blocks = np.broadcast_to(base, (rows, 16)).copy()
            if fast:
                be = nums.astype(">u8").view(np.uint8).reshape(rows, 8)
                blocks[:, 16 - b :] ^= be[:, 8 - b :]
            else:
                nb = np.frombuffer(b"".join(x.to_bytes(b, "big") for x in nums), np.uint8).reshape(rows, b)
                blocks[:, 16 - b :] ^= nb
            r = np.frombuffer(self._ecb(blocks.tobytes()), np.uint8).reshape(rows, 16)
        else:  # NUM(B) spans several blocks: CBC-MAC over the varying blocks, batched per block
            q = rest + bytes([i])
            msgs = np.frombuffer(b"".join(q + x.to_bytes(b, "big") for x in nums), np.uint8)
            msgs = msgs.reshape(rows, -1)
            cur = np.broadcast_to(np.frombuffer(state, np.uint8), (rows, 16)).copy()
            for k in range(msgs.shape[1] // 16):
                cur = np.frombuffer(self._ecb((cur ^ msgs[:, 16 * k : 16 * k + 16]).tobytes()), np.uint8)
                cur = cur.reshape(rows, 16)
            r = cur
        s = r
        for j in range(1, (d + 15) // 16):
            ctr = np.zeros(16, np.uint8)
            ctr[8:] = np.frombuffer(j.to_bytes(8, "big"), np.uint8)
            s = np.concatenate([s, np.frombuffer(self._ecb((r ^ ctr).tobytes()), np.uint8).reshape(rows, 16)],
                               axis=1)
        s = s[:, :d]
        if fast:
            return _mod_bytes(s, modulus)
        return [int.from_bytes(row, "big") % modulus for row in (bytes(x) for x in s)]

    def _feistel(self, digits: np.ndarray, encrypt: bool) -> np.ndarray:
        n = digits.shape[1]
        u, v = n // 2, n - n // 2
        radix = self.radix
        mu, mv = radix**u, radix**v
        fast = mv <= FAST_LIMIT
        a_d, b_d = digits[:, :u], digits[:, u:]
        a: Any
        b: Any
        if fast:
            a, b = _num(a_d, radix), _num(b_d, radix)
        else:
            a, b = _nums_py(a_d, radix), _nums_py(b_d, radix)
        order = range(10) if encrypt else range(9, -1, -1)
        for i in order:
            m = mu if i % 2 == 0 else mv
            if encrypt:
                y = self._round_y(n, i, b, fast, m)
                c = (a + y) % U64(m) if fast else [(x + z) % m for x, z in zip(a, y, strict=True)]
                a, b = b, c
            else:
                y = self._round_y(n, i, a, fast, m)
                c = (b + (U64(m) - y)) % U64(m) if fast else [(x - z) % m for x, z in zip(b, y, strict=True)]
                a, b = c, a
        if fast:
            return np.concatenate([_str(a, radix, u), _str(b, radix, v)], axis=1)
        return np.concatenate([_strs_py(a, radix, u), _strs_py(b, radix, v)], axis=1)


def _ceil_log2_pow(radix: int, v: int) -> int:
    """ceil(v * log2(radix)) exactly."""
    x = radix**v
    k = x.bit_length() - 1
    return k if x == 1 << k else k + 1


def _nums_py(digits: np.ndarray, radix: int) -> list[int]:
    out = []
    for row in digits.tolist():
        acc = 0
        for dgt in row:
            acc = acc * radix + dgt
        out.append(acc)
    return out


def _strs_py(nums: list[int], radix: int, m: int) -> np.ndarray:
    out = np.empty((len(nums), m), dtype=np.int64)
    for r, x in enumerate(nums):
        for j in range(m - 1, -1, -1):
            x, out[r, j] = divmod(x, radix)
    return out


class FF31(_Base):
    """FF3-1 (SP 800-38G Rev. 1 §6.3), 56-bit tweak. Deprecated: kept for compatibility only."""

    name = "FF3-1"
    rounds = 8

    def __init__(self, key: bytes, tweak: bytes, radix: int = 10, alphabet: str | None = None) -> None:
        super().__init__(key, radix, alphabet)
        if not isinstance(tweak, bytes | bytearray) or len(tweak) != 7:
            size = len(tweak) if isinstance(tweak, bytes | bytearray) else "?"
            raise FPEError(f"FF3-1 tweak must be exactly 7 bytes (56 bits), got {size}")
        t = bytes(tweak)
        self._init_core(bytes(key), t[:3] + bytes([t[3] & 0xF0]), t[4:] + bytes([(t[3] & 0x0F) << 4]))

    @classmethod
    def _with_tweak64(cls, key: bytes, tweak64: bytes, radix: int = 10, alphabet: str | None = None) -> FF31:
        """The original FF3 (64-bit tweak): only to check the shared core against NIST's FF3 samples."""
        self = cls.__new__(cls)
        _Base.__init__(self, key, radix, alphabet)
        self._init_core(bytes(key), tweak64[:4], tweak64[4:])
        return self

    def _init_core(self, key: bytes, tl: bytes, tr: bytes) -> None:
        if self.radix > 1 << 16:
            raise FPEError("FF3-1 radix must be at most 65536")
        k = 0
        while self.radix ** (k + 1) <= 1 << 96:
            k += 1
        self.maxlen = 2 * k
        if self.maxlen < self.minlen:
            raise FPEError(f"FF3-1 over radix {self.radix} has no valid length")
        self._tl, self._tr = tl, tr
        self._enc = Cipher(algorithms.AES(key[::-1]), modes.ECB()).encryptor()  # noqa: S305 - FF3-1 round

    def _round_y(self, i: int, nums: Any, fast: bool, modulus: int) -> Any:
        w = self._tr if i % 2 == 0 else self._tl
        wx = bytes(w[:3]) + bytes([w[3] ^ i])
        rows = len(nums)
        # REVB(P) = REVB(NUM(REV(B)) as 12 bytes) || REVB(W xor i)
        blocks = np.zeros((rows, 16), np.uint8)
        blocks[:, 12:] = np.frombuffer(wx[::-1], np.uint8)
        if fast:
            blocks[:, :8] = nums.astype("<u8").view(np.uint8).reshape(rows, 8)
        else:
            blocks[:, :12] = np.frombuffer(b"".join(x.to_bytes(12, "little") for x in nums),
                                           np.uint8).reshape(rows, 12)
        out = np.frombuffer(self._ecb(blocks.tobytes()), np.uint8).reshape(rows, 16)
        s = out[:, ::-1]  # S = REVB(CIPH(REVB(P)))
        if fast:
            return _mod_bytes(s, modulus)
        return [int.from_bytes(bytes(row), "big") % modulus for row in s]

    def _feistel(self, digits: np.ndarray, encrypt: bool) -> np.ndarray:
        n = digits.shape[1]
        u = (n + 1) // 2
        v = n - u
        radix = self.radix
        mu, mv = radix**u, radix**v
        fast = mu <= FAST_LIMIT
        # work on NUM_radix(REV(X)): reverse each half's digits
        a_d, b_d = digits[:, :u][:, ::-1], digits[:, u:][:, ::-1]
        a: Any
        b: Any
        if fast:
            a, b = _num(a_d, radix), _num(b_d, radix)
        else:
            a, b = _nums_py(a_d, radix), _nums_py(b_d, radix)
        order = range(8) if encrypt else range(7, -1, -1)
        for i in order:
            m = mu if i % 2 == 0 else mv
            if encrypt:
                y = self._round_y(i, b, fast, m)
                c = (a + y) % U64(m) if fast else [(x + z) % m for x, z in zip(a, y, strict=True)]
                a, b = b, c
            else:
                y = self._round_y(i, a, fast, m)
                c = (b + (U64(m) - y)) % U64(m) if fast else [(x - z) % m for x, z in zip(b, y, strict=True)]
                a, b = c, a
        if fast:
            return np.concatenate([_str(a, radix, u)[:, ::-1], _str(b, radix, v)[:, ::-1]], axis=1)
        return np.concatenate([_strs_py(a, radix, u)[:, ::-1], _strs_py(b, radix, v)[:, ::-1]], axis=1)


ALGORITHMS = {"ff1": FF1, "ff3-1": FF31}


def cipher(alg: str, key: bytes, tweak: bytes, radix: int = 10, alphabet: str | None = None) -> FF1 | FF31:
    """Build FF1 or FF3-1 by name ("ff1" is the default everywhere)."""
    try:
        cls = ALGORITHMS[alg.lower()]
    except KeyError:
        raise FPEError(f"unknown algorithm {alg!r}; choose ff1 (default) or ff3-1 (deprecated)") from None
    return cls(key, tweak, radix, alphabet)
