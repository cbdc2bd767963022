"""Typed, reversible, format-valid tokenizers built on FF1 (or FF3-1 for compatibility).

Every tokenizer is deterministic per (key, field): the FPE tweak is derived from the field name and
the tokenizer's purpose, so the same value in the same field always gives the same token (joins and
counts still work) while the same value in two fields gives two tokens.

Batch in, batch out: values that cannot be tokenized come back as an error reason for their index
(the caller quarantines the record); a value is never passed through in clear.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from intelsec.errors import InputError
from intelsec.privacy.fpe import FF1, FF31, FPEValueError, cipher, min_length

LOWER36 = string.digits + string.ascii_lowercase
KINDS = ("email", "ipv4", "ipv6", "ip", "account_id", "card", "digits", "alnum")


@dataclass
class BatchResult:
    """Outputs by position (None where the value failed) and the reason for each failure."""

    values: list[str | None]
    errors: dict[int, str] = field(default_factory=dict)


def tweak_for(field_name: str, purpose: str, alg: str) -> bytes:
    """The FPE tweak of one (field, purpose): 16 bytes for FF1, 7 bytes for FF3-1."""
    digest = hashlib.sha256(f"intelsec-token/v1\x00{field_name}\x00{purpose}".encode()).digest()
    return digest[:7] if alg == "ff3-1" else digest[:16]


def _run(c: FF1 | FF31, values: list[str], encrypt: bool) -> tuple[list[str | None], dict[int, str]]:
    """Batch FPE that isolates bad values instead of failing the whole batch."""
    out: list[str | None] = [None] * len(values)
    errors: dict[int, str] = {}
    pending = []
    for i, v in enumerate(values):
        why = c.problem(v)
        if why is None:
            pending.append(i)
        else:
            errors[i] = why
    while pending:
        try:
            res = (c.encrypt_batch if encrypt else c.decrypt_batch)([values[i] for i in pending])
        except FPEValueError as exc:
            bad = pending.pop(exc.index)
            errors[bad] = exc.reason
            continue
        for i, r in zip(pending, res, strict=True):
            out[i] = r
        break
    return out, errors


def _walk(c: FF1 | FF31, values: list[str], encrypt: bool, ok: Callable[[int, str], bool],
          limit: int = 10_000) -> tuple[list[str | None], dict[int, str]]:
    """Cycle-walking: re-apply the permutation until `ok(index, value)` holds, restricting it to the
    valid subset of each value (the subset must contain the value itself)."""
    out, errors = _run(c, values, encrypt)
    todo = [i for i, v in enumerate(out) if v is not None and not ok(i, v)]
    for _ in range(limit):
        if not todo:
            return out, errors
        again, _ = _run(c, [out[i] for i in todo], encrypt)  # type: ignore[misc]
        for i, v in zip(todo, again, strict=True):
            out[i] = v
        todo = [i for i in todo if not ok(i, out[i])]  # type: ignore[arg-type]
    for i in todo:
        out[i] = None
        errors[i] = "cycle-walking did not converge"
    return out, errors


class Tokenizer:
    """Base: subclasses implement `_apply(values, encrypt)`."""

    kind = "base"

    def __init__(self, key: bytes, field_name: str, alg: str = "ff1") -> None:
        self._key = key
        self.field = field_name
        self.alg = alg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(field={self.field!r}, alg={self.alg!r})"

    def _cipher(self, purpose: str, radix: int, alphabet: str | None = None) -> FF1 | FF31:
        return cipher(self.alg, self._key, tweak_for(self.field, f"{self.kind}/{purpose}", self.alg), radix, alphabet)

    def tokenize(self, values: Sequence[str]) -> BatchResult:
        return self._apply(list(values), True)

    def detokenize(self, values: Sequence[str]) -> BatchResult:
        return self._apply(list(values), False)

    def _apply(self, values: list[str], encrypt: bool) -> BatchResult:
        raise NotImplementedError


class _Alphabetic(Tokenizer):
    """Whole value over one alphabet: `digits` (radix 10) and `alnum` (radix 62)."""

    radix = 10
    alphabet: str | None = None

    def __init__(self, key: bytes, field_name: str, alg: str = "ff1") -> None:
        super().__init__(key, field_name, alg)
        self._c = self._cipher("value", self.radix, self.alphabet)

    def _apply(self, values: list[str], encrypt: bool) -> BatchResult:
        out, errors = _run(self._c, values, encrypt)
        return BatchResult(out, {i: f"{self.kind}: {r}" for i, r in errors.items()})


class DigitsTokenizer(_Alphabetic):
    kind = "digits"


class AlnumTokenizer(_Alphabetic):
    kind = "alnum"
    radix = 62


# ---- account ids: same length, same character classes ---------------------------------------------

_CLASS_ALPHABETS = {
    frozenset("d"): string.digits,
    frozenset("l"): string.ascii_lowercase,
    frozenset("u"): string.ascii_uppercase,
    frozenset("dl"): LOWER36,
    frozenset("du"): string.digits + string.ascii_uppercase,
    frozenset("lu"): string.ascii_letters,
    frozenset("dlu"): string.digits + string.ascii_letters,
}


_HAS = (("d", re.compile(r"[0-9]")), ("l", re.compile(r"[a-z]")), ("u", re.compile(r"[A-Z]")))
_NON_ASCII_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _classes(core: str) -> frozenset[str]:
    return frozenset(name for name, rx in _HAS if rx.search(core))


def _split_core(value: str, keep: Callable[[str], bool]) -> tuple[str, list[tuple[int, str]]]:
    """(characters to encrypt, [(position, separator)] kept in place)."""
    core = []
    seps = []
    for i, ch in enumerate(value):
        if keep(ch):
            core.append(ch)
        else:
            seps.append((i, ch))
    return "".join(core), seps


def _join_core(core: str, seps: list[tuple[int, str]]) -> str:
    if not seps:
        return core
    out = list(core)
    for i, ch in seps:
        out.insert(i, ch)
    return "".join(out)


class AccountIdTokenizer(Tokenizer):
    """Letters and digits are replaced within the value's own character classes; separators stay.

    The alphabet is chosen by the class set (digits / lower / upper); when the set has several
    classes, cycle-walking keeps every class present, so the token has the same class set and the
    detokenizer can pick the same alphabet back.
    """

    kind = "account_id"

    def __init__(self, key: bytes, field_name: str, alg: str = "ff1") -> None:
        super().__init__(key, field_name, alg)
        self._ciphers = {cls: self._cipher("".join(sorted(cls)), len(a), a) for cls, a in _CLASS_ALPHABETS.items()}

    def _apply(self, values: list[str], encrypt: bool) -> BatchResult:
        res = BatchResult([None] * len(values))
        groups: dict[frozenset[str], list[tuple[int, str, list[tuple[int, str]]]]] = {}
        for i, v in enumerate(values):
            if not v.isascii() or not v.isprintable():
                res.errors[i] = "account_id: only printable ASCII is supported"
                continue
            seps = [(m.start(), m.group()) for m in _NON_ASCII_ALNUM.finditer(v)]
            core = _NON_ASCII_ALNUM.sub("", v) if seps else v
            if not core:
                res.errors[i] = "account_id: no letters or digits to tokenize"
                continue
            groups.setdefault(_classes(core), []).append((i, core, seps))
        for cls, items in groups.items():
            out, errors = _walk(self._ciphers[cls], [c for _, c, _ in items], encrypt,
                                lambda _, t, cls=cls: _classes(t) == cls)  # type: ignore[misc]
            for k, (i, _, seps) in enumerate(items):
                if k in errors:
                    res.errors[i] = f"account_id: {errors[k]}"
                else:
                    res.values[i] = _join_core(out[k], seps)  # type: ignore[arg-type]
        return res


# ---- cards: Luhn-valid output, optional keep-last-4 ---------------------------------------------------

def luhn_ok(digits: str) -> bool:
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if k % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return d
    raise AssertionError("unreachable")


class CardTokenizer(Tokenizer):
    """Card numbers (13-19 digits, spaces/dashes kept): the token is another Luhn-valid number."""

    kind = "card"

    def __init__(self, key: bytes, field_name: str, alg: str = "ff1", keep_last4: bool = False) -> None:
        super().__init__(key, field_name, alg)
        self.keep_last4 = keep_last4
        self._c = self._cipher("last4" if keep_last4 else "body", 10)

    def _apply(self, values: list[str], encrypt: bool) -> BatchResult:
        res = BatchResult([None] * len(values))
        items = []
        for i, v in enumerate(values):
            digits, seps = _split_core(v, lambda ch: ch.isascii() and ch.isdigit())
            if any(ch not in " -" for _, ch in seps):
                res.errors[i] = "card: only digits, spaces and dashes are allowed"
            elif not 13 <= len(digits) <= 19:
                res.errors[i] = f"card: {len(digits)} digits, expected 13 to 19"
            elif not luhn_ok(digits):
                res.errors[i] = "card: not a valid card number (Luhn check failed)"
            else:
                items.append((i, digits, seps))
        cut = 4 if self.keep_last4 else 1
        bodies = [d[:-cut] for _, d, _ in items]
        if self.keep_last4:
            tails = [d[-4:] for _, d, _ in items]
            # cycle-walk inside the set of bodies that make a Luhn-valid number with the kept tail
            out: list[str | None] = [None] * len(items)
            errors: dict[int, str] = {}
            by_tail: dict[str, list[int]] = {}
            for k, t in enumerate(tails):
                by_tail.setdefault(t, []).append(k)
            for tail, ks in by_tail.items():
                o, e = _walk(self._c, [bodies[k] for k in ks], encrypt, lambda _, b, t=tail: luhn_ok(b + t))  # type: ignore[misc]
                for j, k in enumerate(ks):
                    out[k] = o[j]
                    if j in e:
                        errors[k] = e[j]
        else:
            out, errors = _run(self._c, bodies, encrypt)
        for k, (i, digits, seps) in enumerate(items):
            body = out[k]
            if body is None:
                res.errors[i] = f"card: {errors.get(k, 'failed')}"
                continue
            number = body + digits[-4:] if self.keep_last4 else body + luhn_digit(body)
            res.values[i] = _join_core(number, seps)
        return res


# ---- IP addresses -----------------------------------------------------------------------------------

class IpTokenizer(Tokenizer):
    """IPv4/IPv6 to an address of the same family; optional prefix kept where the rest stays >= 20 bits."""

    kind = "ip"
    families: tuple[int, ...] = (4, 6)

    def __init__(self, key: bytes, field_name: str, alg: str = "ff1", prefix4: int = 0, prefix6: int = 0) -> None:
        super().__init__(key, field_name, alg)
        need = min_length(2)
        for fam, bits, pre in ((4, 32, prefix4), (6, 128, prefix6)):
            if fam in self.families and not 0 <= pre <= bits - need:
                raise InputError(
                    f"{field_name}: keeping a /{pre} prefix of an IPv{fam} address leaves {bits - pre} bits, below "
                    f"the {need}-bit minimum domain (radix 2 needs 2^{need} >= 1,000,000); use at most /{bits - need}")
        self.prefix = {4: prefix4, 6: prefix6}
        self._c = {fam: self._cipher(f"v{fam}/{self.prefix[fam]}", 2) for fam in self.families}

    def _apply(self, values: list[str], encrypt: bool) -> BatchResult:
        res = BatchResult([None] * len(values))
        groups: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for i, v in enumerate(values):
            try:
                addr = ipaddress.ip_address(v)
            except ValueError:
                res.errors[i] = f"{self.kind}: not an IP address"
                continue
            if addr.version not in self.families:
                res.errors[i] = f"{self.kind}: not an IPv{self.families[0]} address"
                continue
            groups[addr.version].append((i, int(addr)))
        for fam, items in groups.items():
            if not items:
                continue
            bits, pre = (32 if fam == 4 else 128), self.prefix[fam]
            width = bits - pre
            mask = (1 << width) - 1
            out, errors = _run(self._c[fam], [format(n & mask, f"0{width}b") for _, n in items], encrypt)
            for k, (i, n) in enumerate(items):
                if out[k] is None:
                    res.errors[i] = f"{self.kind}: {errors.get(k)}"
                    continue
                m = (n & ~mask) | int(out[k], 2)  # type: ignore[arg-type]
                res.values[i] = str(ipaddress.IPv4Address(m) if fam == 4 else ipaddress.IPv6Address(m))
        return res


class Ipv4Tokenizer(IpTokenizer):
    kind = "ipv4"
    families = (4,)


class Ipv6Tokenizer(IpTokenizer):
    kind = "ipv6"
    families = (6,)


# ---- email ------------------------------------------------------------------------------------------

_LOCAL_SEPARATORS = set(".-_+!#$%&'*/=?^`{|}~")


@lru_cache(maxsize=1)
def _extractor():  # type: ignore[no-untyped-def]
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # bundled snapshot, no network


@lru_cache(maxsize=65536)
def split_domain(domain: str) -> tuple[str, str]:
    """(name, public suffix) of a lower-case domain; the last label counts as suffix when none is known."""
    suffix = _extractor()(domain).suffix
    if not suffix or suffix == domain:
        name, _, suffix = domain.rpartition(".")
        return name, suffix
    return domain[: -len(suffix) - 1], suffix


_LOCAL_OK = re.compile(r"[a-z0-9.\-_+!#$%&'*/=?^`{|}~]+")
_DOMAIN_OK = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_DROP_SEPARATORS = str.maketrans("", "", "".join(_LOCAL_SEPARATORS))


def _split_lower(s: str) -> tuple[str, list[tuple[int, str]]]:
    """`_split_core` for lower-case ASCII letters/digits, at C speed."""
    seps = [(m.start(), m.group()) for m in _NON_ALNUM.finditer(s)]
    return (s.translate(_DROP_SEPARATORS) if seps else s), seps


@lru_cache(maxsize=65536)
def _domain_parts(domain: str) -> tuple[str, list[tuple[int, str]], str] | str:
    """(name core, name separators, public suffix) of a domain, or why it is unusable (cached: domains repeat)."""
    if not _DOMAIN_OK.fullmatch(domain):
        return "invalid domain"
    name, suffix = split_domain(domain)
    if not name:
        return "no domain name before the public suffix"
    dcore, dseps = _split_lower(name)
    return dcore, dseps, suffix


class EmailTokenizer(Tokenizer):
    """`local@name.suffix` -> `LOCAL@NAME.suffix`, lower-cased, separators and public suffix kept.

    Local part and domain name are tokenized separately (so every address at one domain shares the
    domain token) when each has at least 4 letters/digits, the radix-36 minimum of NIST SP 800-38G
    Rev. 1. When either is shorter, both are tokenized together as one value (lengths are kept, so
    the detokenizer knows which case applies). Fewer than 4 in total: refused. A domain token whose
    last labels would read as a longer public suffix (`xy.com.br` from `mail.foo.br`) is cycle-walked
    away, or the detokenizer would split the token's domain differently.
    """

    kind = "email"

    def __init__(self, key: bytes, field_name: str, alg: str = "ff1") -> None:
        super().__init__(key, field_name, alg)
        self._local = self._cipher("local", 36, LOWER36)
        self._domain = self._cipher("domain", 36, LOWER36)
        self._joint = self._cipher("joint", 36, LOWER36)
        self.minlen = min_length(36)

    def _parse(self, value: str) -> tuple[str, list[tuple[int, str]], str, list[tuple[int, str]], str] | str:
        v = value.lower()
        local, at, domain = v.rpartition("@")
        if not at or not local or "." not in domain or not v.isascii():
            return "not an email address (ASCII local@domain.tld expected)"
        if not _LOCAL_OK.fullmatch(local):
            return "unsupported character in the local part"
        parts = _domain_parts(domain)
        if isinstance(parts, str):
            return parts
        lcore, lseps = _split_lower(local)
        return (lcore, lseps, *parts)

    def _apply(self, values: list[str], encrypt: bool) -> BatchResult:
        res = BatchResult([None] * len(values))
        parsed = {}
        sep_l, sep_d, joint = [], [], []
        for i, v in enumerate(values):
            p = self._parse(v)
            if isinstance(p, str):
                res.errors[i] = f"email: {p}"
                continue
            lcore, _, dcore, _, _ = p
            parsed[i] = p
            if len(lcore) >= self.minlen and len(dcore) >= self.minlen:
                sep_l.append(i)
                sep_d.append(i)
            elif len(lcore) + len(dcore) >= self.minlen:
                joint.append(i)
            else:
                res.errors[i] = (f"email: fewer than {self.minlen} letters/digits in local part and domain name "
                                 "together, below the NIST minimum domain for radix 36")
        def same_suffix(i: int, dcore: str) -> bool:
            _, _, _, dseps, suffix = parsed[i]
            return split_domain(f"{_join_core(dcore, dseps)}.{suffix}")[1] == suffix

        lo, le = _run(self._local, [parsed[i][0] for i in sep_l], encrypt)
        do, de = _walk(self._domain, [parsed[i][2] for i in sep_d], encrypt, lambda k, t: same_suffix(sep_d[k], t))
        jo, je = _walk(self._joint, [parsed[i][0] + parsed[i][2] for i in joint], encrypt,
                       lambda k, t: same_suffix(joint[k], t[len(parsed[joint[k]][0]):]))
        new: dict[int, tuple[str | None, str | None]] = {}
        for k, i in enumerate(sep_l):
            new[i] = (lo[k], do[k])
            if k in le or k in de:
                res.errors[i] = f"email: {le.get(k) or de.get(k)}"
        for k, i in enumerate(joint):
            t = jo[k]
            n = len(parsed[i][0])
            new[i] = (t[:n], t[n:]) if t is not None else (None, None)
            if k in je:
                res.errors[i] = f"email: {je[k]}"
        for i, (lt, dt) in new.items():
            if i in res.errors or lt is None or dt is None:
                continue
            _, lseps, _, dseps, suffix = parsed[i]
            res.values[i] = f"{_join_core(lt, lseps)}@{_join_core(dt, dseps)}.{suffix}"
        return res


TOKENIZERS: dict[str, type[Tokenizer]] = {
    "email": EmailTokenizer, "ipv4": Ipv4Tokenizer, "ipv6": Ipv6Tokenizer, "ip": IpTokenizer,
    "account_id": AccountIdTokenizer, "card": CardTokenizer, "digits": DigitsTokenizer, "alnum": AlnumTokenizer,
}


def make_tokenizer(kind: str, key: bytes, field_name: str, alg: str = "ff1", **options: object) -> Tokenizer:
    """A tokenizer for one field of one kind (see KINDS)."""
    try:
        cls = TOKENIZERS[kind]
    except KeyError:
        raise InputError(f"unknown tokenizer kind {kind!r}; choose one of: {', '.join(KINDS)}") from None
    return cls(key, field_name, alg, **options)  # type: ignore[arg-type]
