"""Detectors: a stable id, a severity, a line regex and an optional validator.

Patterns use ASCII semantics (`re.ASCII`), as the hyperscan engine does over bytes, so both
engines agree. A named group `value` narrows the reported span; otherwise the whole match counts.
Every built-in pattern is anchored with look-arounds at token edges, so a long run of letters or
digits costs linear time and only whole tokens match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from intelsec.privacy.dlp import validators as v

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Detector:
    id: str
    severity: str
    pattern: str
    description: str
    validator: v.Validator | None = None
    builtin: bool = True
    prefilter: str | None = None  # hyperscan pattern: the regex without look-arounds plus one terminator char
    # hyperscan pattern matching exactly the regex's matches plus one boundary char (or line edge) on
    # each side, for validator-free detectors whose values start and end with a digit: findings come
    # straight from hyperscan, no Python regex per line
    exact: str | None = None
    flags: int = re.ASCII
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    bregex: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    group: int | str = field(init=False, repr=False, compare=False)
    width: int | None = field(init=False, repr=False, compare=False)  # longest match, None if unbounded

    def __post_init__(self) -> None:
        rx = re.compile(self.pattern, self.flags)
        object.__setattr__(self, "regex", rx)
        object.__setattr__(self, "group", "value" if "value" in rx.groupindex else 0)
        if self.builtin:  # ASCII-only patterns without ^ $ \b: byte windows inside a block are exact
            object.__setattr__(self, "bregex", re.compile(self.pattern.encode("ascii"), self.flags))
        from re import _parser  # type: ignore[attr-defined]

        hi = _parser.parse(self.pattern, self.flags).getwidth()[1]
        object.__setattr__(self, "width", None if hi >= _parser.MAXREPEAT else hi)


_H = r"[0-9A-Fa-f]{1,4}"
_V4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_TOKEN_L = r"(?<![0-9A-Za-z_-])"  # noqa: S105 - a regex, not a password
_TOKEN_R = r"(?![0-9A-Za-z_-])"  # noqa: S105
# Prefilter terminators: one char the regex's negative look-ahead allows, or a line end. Hyperscan
# then reports each candidate once, at most one byte past the regex's own end.
_END = r"(?:[^0-9A-Za-z_-]|$)"
_END_B64 = r"(?:[^A-Za-z0-9/+=_-]|$)"

BUILTINS: tuple[Detector, ...] = (
    Detector("credit_card", "high",
             r"(?<![\w.-])(?:\d{12,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{4,5})"
             r"(?![\w-]|\.\d)",
             "Payment card number (Luhn + IIN range + length)", v.credit_card,
             prefilter=r"(?:\d{12,19}|\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?:[ -]\d{3})?|\d{4}[ -]\d{6}[ -]\d{4,5})"
                       + _END),
    Detector("us_ssn", "high", r"(?<![\w.-])\d{3}([- ])\d{2}\1\d{4}(?![\w-]|\.\d)",
             "US Social Security number (SSA area/group/serial rules)", v.us_ssn,
             prefilter=rf"\d{{3}}[- ]\d{{2}}[- ]\d{{4}}{_END}"),
    Detector("email", "medium",
             r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}"
             r"(?![\w-])", "Email address", v.email),
    Detector("ipv4", "low", rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)", "IPv4 address",
             exact=rf"(?:^|[^0-9A-Za-z_.]){_OCTET}(?:\.{_OCTET}){{3}}(?:[^0-9A-Za-z_.]|\.[^0-9]|\.?$)"),
    Detector("ipv6", "low",
             rf"(?<![\w:.])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{6}}{_V4}|(?:{_H}(?::{_H}){{0,6}})?::"
             rf"(?:(?:{_H}:){{0,5}}(?:{_V4}|{_H}))?)(?![\w:]|\.\d)", "IPv6 address", v.ipv6),
    Detector("iban", "high", r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w-])",
             "International bank account number (ISO 13616 mod-97 + country length)", v.iban,
             prefilter=rf"[A-Z]{{2}}\d{{2}}(?: ?[A-Z0-9]){{11,30}}{_END}"),
    Detector("aws_access_key_id", "high", rf"{_TOKEN_L}(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}{_TOKEN_R}",
             "AWS access key id", v.aws_access_key_id),
    Detector("aws_secret_access_key", "critical", r"(?<![A-Za-z0-9/+_.-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])",
             "AWS secret access key (near an access key id or a secret-ish name)", v.aws_secret_access_key,
             prefilter=rf"[A-Za-z0-9/+]{{40}}{_END_B64}"),
    Detector("github_token", "critical",
             rf"{_TOKEN_L}(?:gh[pousr]_[A-Za-z0-9]{{36,251}}|github_pat_[A-Za-z0-9_]{{82}}){_TOKEN_R}",
             "GitHub token (classic or fine-grained)", v.token(4)),
    Detector("slack_token", "high", rf"{_TOKEN_L}xox[abposr]-\d{{6,16}}-[0-9A-Za-z-]{{10,250}}{_TOKEN_R}",
             "Slack token", v.token(5),
             prefilter=rf"xox[abposr]-\d{{6,16}}-[0-9A-Za-z-]{{10,}}{_END}"),
    Detector("private_key", "critical",
             r"-----BEGIN (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----",
             "PEM/OpenSSH private key block"),
    Detector("jwt", "medium", rf"{_TOKEN_L}eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{2,}}\.[A-Za-z0-9_-]*{_TOKEN_R}",
             "JSON Web Token (header decodes to JSON with alg)", v.jwt,
             prefilter=rf"eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{2,}}\.[A-Za-z0-9_-]*{_END}"),
    Detector("google_api_key", "high", rf"{_TOKEN_L}AIza[0-9A-Za-z_-]{{35}}{_TOKEN_R}", "Google API key",
             v.token(4)),
    Detector("stripe_secret_key", "critical", rf"{_TOKEN_L}(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{{24,99}}{_TOKEN_R}",
             "Stripe secret or restricted key", v.token(8)),
)

BUILTIN_IDS = frozenset(d.id for d in BUILTINS)


def select(detectors: list[Detector], wanted: list[str] | None) -> list[Detector]:
    """Keep the detectors named in `wanted` (all when None); unknown names are an error."""
    if not wanted:
        return detectors
    known = {d.id for d in detectors}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        from intelsec.errors import InputError

        raise InputError(f"unknown detector(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [d for d in detectors if d.id in wanted]


def user_detector(name: str, regex: str, severity: str, luhn: bool = False, description: str = "") -> Detector:
    """A detector from `dlp/policies.yaml`; `luhn: true` requires the digits to pass Luhn."""
    return Detector(name, severity, regex, description or f"custom pattern {name}",
                    v.luhn_digits if luhn else None, builtin=False)
