"""Validators: pure checks that turn a regex candidate into a finding or drop it.

Each validator gets the candidate value, the whole line and the candidate's start offset, and
returns the length of the accepted value (usually `len(value)`; IBAN may trim a trailing word
its loose pattern swallowed) or None to reject it. They run only on candidate matches.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable

Validator = Callable[[str, str, int], int | None]


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812 check digit over a string of ASCII digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# (first-digits low, high, allowed lengths): public IIN ranges of the major networks.
_IIN_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (300, 305, frozenset({14, 16, 17, 18, 19})),  # Diners Club
    (36, 36, frozenset({14, 16, 17, 18, 19})),
    (38, 39, frozenset({14, 16, 17, 18, 19})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (2131, 2131, frozenset({15})),  # JCB (legacy 15-digit)
    (1800, 1800, frozenset({15})),
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (56, 58, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (6304, 6304, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (6759, 6759, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (6761, 6763, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (6390, 6390, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (676770, 676774, frozenset({16, 17, 18, 19})),
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
)


_IIN_BY_WIDTH: dict[int, list[tuple[int, int, frozenset[int]]]] = {}
for _low, _high, _lengths in _IIN_RANGES:
    _IIN_BY_WIDTH.setdefault(len(str(_low)), []).append((_low, _high, _lengths))


def iin_ok(digits: str) -> bool:
    n = len(digits)
    for width, rows in _IIN_BY_WIDTH.items():
        prefix = int(digits[:width])
        for low, high, lengths in rows:
            if low <= prefix <= high and n in lengths:
                return True
    return False


def _card_ok(digits: str) -> bool:
    return len(set(digits)) >= 2 and iin_ok(digits) and luhn_ok(digits)


_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* $")


def credit_card(value: str, line: str, start: int) -> int | None:
    """Compact or grouped (4-4-4-4[-3], 4-6-5, 4-6-4); a trailing 3-digit group may be a CVV."""
    if value[4] in " -" and _IBAN_HEAD.search(line, max(0, start - 40), start):
        return None  # the middle groups of a printed IBAN
    digits = value.replace(" ", "").replace("-", "")
    if _card_ok(digits):
        return len(value)
    if len(digits) == 19 and not value.isdigit() and _card_ok(digits[:16]):
        return len(value) - 4
    return None


_SSN_INVALID = frozenset({"078051120", "219099999", "123456789"})


def us_ssn(value: str, line: str, start: int) -> int | None:
    if value[3] != value[6]:
        return None
    area, group, serial = value[:3], value[4:6], value[7:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return None
    return None if area + group + serial in _SSN_INVALID else len(value)


# ISO 13616 IBAN lengths per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


_IBAN_DIGITS = {ord(c): str(i + 10) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def iban_mod97_ok(iban: str) -> bool:
    if not ("02" <= iban[2:4] <= "98"):  # ISO 13616 check digits; 00/01/99 alias valid ones mod 97
        return False
    rearranged = (iban[4:] + iban[:4]).translate(_IBAN_DIGITS)
    return rearranged.isdigit() and rearranged.isascii() and int(rearranged) % 97 == 1


def iban(value: str, line: str, start: int) -> int | None:
    want = IBAN_LENGTHS.get(value[:2])
    if want is None:
        return None
    compact, taken = "", 0
    for ch in value:  # walk until the country's length is reached, trimming any swallowed tail
        if len(compact) == want:
            break
        taken += 1
        if ch != " ":
            compact += ch
    if len(compact) != want:
        return None
    kept = value[:taken]
    rest = value[taken:]
    if rest and not rest.startswith(" "):
        return None
    if " " in kept and any(len(g) != 4 for g in kept.split(" ")[:-1]):
        return None
    return taken if iban_mod97_ok(compact) else None


_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def looks_random(value: str, min_distinct: int = 10) -> bool:
    """Reject placeholders such as `ghp_XXXX...`: real tokens mix letters and digits."""
    chars = set(value)
    if len(chars) < min_distinct:
        return False
    return bool(chars & _DIGITS) + bool(chars & _LOWER) + bool(chars & _UPPER) >= 2


def token(prefix_len: int) -> Validator:
    def check(value: str, line: str, start: int) -> int | None:
        return len(value) if looks_random(value[prefix_len:]) else None
    return check


def aws_access_key_id(value: str, line: str, start: int) -> int | None:
    if value.endswith("EXAMPLE"):  # AWS documentation placeholders
        return None
    return len(value) if len(set(value[4:])) >= 8 else None


_AWS_KEY_ID = re.compile(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}")
_SECRET_NAME = re.compile(r"(?i)(?:secret|aws.?(?:access|private)?.?key|sk)[\w\"' ]{0,20}[:=]")


def aws_secret_access_key(value: str, line: str, start: int) -> int | None:
    """Only near an access key id or a secret-ish name: 40-char base64 runs are common."""
    if not (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)):
        return None
    before = line[max(0, start - 60):start]
    if _SECRET_NAME.search(before) or _AWS_KEY_ID.search(line, max(0, start - 200), start + len(value) + 200):
        return len(value)
    return None


def _b64url_json(part: str) -> object:
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return json.loads(raw)


def jwt(value: str, line: str, start: int) -> int | None:
    header, payload, _ = value.split(".", 2)
    try:
        head = _b64url_json(header)
        _b64url_json(payload)
    except (binascii.Error, ValueError):
        return None
    if isinstance(head, dict) and isinstance(head.get("alg"), str):
        return len(value)
    return None


_EMAIL_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def email(value: str, line: str, start: int) -> int | None:
    local, _, domain = value.rpartition("@")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    labels = domain.split(".")
    if not all(_EMAIL_LABEL.match(lbl) for lbl in labels) or not labels[-1].isalpha():
        return None
    return len(value)


def ipv6(value: str, line: str, start: int) -> int | None:
    try:
        addr = ipaddress.IPv6Address(value)
    except ValueError:
        return None
    groups = [g for g in value.split(":") if g]
    if addr.is_unspecified or addr.is_loopback or len(groups) < 2:
        return None
    return len(value)


def luhn_digits(value: str, line: str, start: int) -> int | None:
    """For user patterns with `luhn: true`: the digits in the value must pass Luhn."""
    digits = "".join(c for c in value if c.isdigit())
    return len(value) if len(digits) >= 2 and luhn_ok(digits) else None
