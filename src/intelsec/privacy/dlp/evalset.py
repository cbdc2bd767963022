"""A labelled evaluation set for the DLP detectors, generated from a seed (needs `faker`, a dev extra).

Lines look like real telemetry (access logs, JSON events, CSV rows) and carry known-valid values
(labelled with their exact span) next to known-invalid look-alikes (Luhn failures, SSNs in
forbidden ranges, IBANs with a wrong check digit or length, placeholder tokens, git SHAs, UUIDs,
timestamps, MAC addresses, version strings...), which must not be reported. `evaluate` scores a
scanner against the labels: a finding counts only when line, span and detector all match.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Label = tuple[int, int, int, str]  # line (1-based), start, end, detector

_B32 = string.ascii_uppercase + "234567"
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "/+"


@dataclass
class EvalSet:
    lines: list[str]
    labels: set[Label]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    from intelsec.privacy.dlp.validators import luhn_ok

    body = prefix + _rand(rng, string.digits, length - len(prefix) - 1)
    return next(body + d for d in string.digits if luhn_ok(body + d))


class _Gen:
    """Valid and invalid value factories; each valid one returns (detector, value)."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"])
        self.fake.seed_instance(seed)

    # -- valid -------------------------------------------------------------------------------
    def card(self) -> str:
        r = self.rng
        kind = r.choice(["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb", "maestro"])
        if kind == "jcb":
            n = _luhn_complete(r, str(r.randint(3528, 3589)), 16)
        else:
            n = self.fake.credit_card_number(card_type=kind)
            while n.startswith("0604"):
                n = self.fake.credit_card_number(card_type=kind)
        style = r.random()
        if style < 0.25 and len(n) in (16, 19):
            sep = r.choice(" -")
            return sep.join(n[i:i + 4] for i in range(0, len(n), 4))
        if style < 0.35 and len(n) == 15:
            sep = r.choice(" -")
            return f"{n[:4]}{sep}{n[4:10]}{sep}{n[10:]}"
        return str(n)

    def ssn(self) -> str:
        s = str(self.fake["en_US"].ssn())
        return s.replace("-", " ") if self.rng.random() < 0.15 else s

    def iban(self) -> str:
        loc = self.rng.choice(["en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"])
        v = str(self.fake[loc].iban())
        return " ".join(v[i:i + 4] for i in range(0, len(v), 4)) if self.rng.random() < 0.3 else v

    def email(self) -> str:
        return str(self.rng.choice([self.fake.email, self.fake.company_email, self.fake.free_email])())

    def ipv4(self) -> str:
        return str(self.fake.ipv4_private() if self.rng.random() < 0.5 else self.fake.ipv4_public())

    def ipv6(self) -> str:
        v = ipaddress.IPv6Address(self.fake.ipv6())
        if self.rng.random() < 0.4:  # compressible form
            words = list(v.exploded.split(":"))
            k = self.rng.randint(1, 5)
            words[k:k + 3] = ["0000"] * 3
            v = ipaddress.IPv6Address(":".join(words))
        return v.compressed if self.rng.random() < 0.7 else v.exploded

    def aws_key_id(self) -> str:
        return self.rng.choice(["AKIA", "ASIA"]) + _rand(self.rng, _B32, 16)

    def aws_secret(self) -> str:
        while True:
            s = _rand(self.rng, _B64, 40)
            if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
                return s

    def github(self) -> str:
        if self.rng.random() < 0.2:
            return "github_pat_" + _rand(self.rng, _ALNUM + "_", 82)
        return "gh" + self.rng.choice("pousr") + "_" + _rand(self.rng, _ALNUM, 36)

    def slack(self) -> str:
        r = self.rng
        return (f"xox{r.choice('bpa')}-{_rand(r, string.digits, 12)}-{_rand(r, string.digits, 13)}-"
                f"{_rand(r, _ALNUM, 24)}")

    def jwt(self) -> str:
        import jwt as pyjwt

        claims = {"sub": self.fake.user_name(), "iat": self.rng.randint(1_600_000_000, 1_800_000_000), "scope": "read"}
        return str(pyjwt.encode(claims, _rand(self.rng, _ALNUM, 32), algorithm=self.rng.choice(["HS256", "HS384"])))

    def google(self) -> str:
        return "AIza" + _rand(self.rng, _ALNUM + "_-", 35)

    def stripe(self) -> str:
        return self.rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + _rand(self.rng, _ALNUM, 24)

    def pem(self) -> str:
        kind = self.rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
        return f"-----BEGIN {kind}PRIVATE KEY-----"

    # -- invalid look-alikes -------------------------------------------------------------------
    def decoy(self) -> str:
        r, f = self.rng, self.fake
        choices: list[Callable[[], str]] = [
            lambda: (lambda n: n[:-1] + str((int(n[-1]) + r.randint(1, 9)) % 10))(self.card().replace(" ", "")),
            lambda: _luhn_complete(r, r.choice(["1", "7", "8", "9"]) + _rand(r, string.digits, 2), 16),  # no IIN
            lambda: str(r.randint(1_600_000_000_000, 1_800_000_000_000)),  # epoch millis
            lambda: f"{r.choice(['000', '666', '9' + _rand(r, string.digits, 2)])}-{r.randint(10, 99)}-"
                    f"{r.randint(1000, 9999)}",
            lambda: f"{r.randint(100, 665)}-00-{r.randint(1000, 9999)}",
            lambda: f"{r.randint(100, 665)}-{r.randint(10, 99)}-0000",
            lambda: (lambda v: v[:2] + f"{(int(v[2:4]) + r.randint(1, 50)) % 100:02d}" + v[4:])(
                str(self.fake["de_DE"].iban())),  # bad check digits
            lambda: str(self.fake["en_GB"].iban())[:-1],  # wrong length
            lambda: "AKIA" + _rand(r, _B32, 15),
            lambda: "AKIAIOSFODNN7EXAMPLE",
            lambda: r.getrandbits(160).to_bytes(20, "big").hex(),  # git SHA
            lambda: str(f.uuid4()),
            lambda: f.date_time().isoformat(),
            lambda: f.mac_address(),
            lambda: f"v{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
            lambda: f"1.3.6.1.4.1.{r.randint(1, 99999)}.{r.randint(1, 9)}",
            lambda: "ghp_" + "x" * 36,
            lambda: "sk_live_" + "X" * 24,
            lambda: "eyJ" + _rand(r, _ALNUM, 30) + "." + _rand(r, _ALNUM, 20) + "." + _rand(r, _ALNUM, 20),
            lambda: base64.b64encode(r.randbytes(45)).decode(),  # 60-char base64 blob
            lambda: f"{f.user_name()}@localhost",
            lambda: f"pkg@{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
            lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
            lambda: "-----BEGIN PUBLIC KEY-----",
            lambda: f"+1-{r.randint(200, 999)}-555-{r.randint(1000, 9999)}",
            lambda: "std::vector<int>",
        ]
        return r.choice(choices)()


VALID: dict[str, str] = {  # detector -> generator method
    "credit_card": "card", "us_ssn": "ssn", "iban": "iban", "email": "email", "ipv4": "ipv4", "ipv6": "ipv6",
    "aws_access_key_id": "aws_key_id", "github_token": "github", "slack_token": "slack", "jwt": "jwt",
    "google_api_key": "google", "stripe_secret_key": "stripe", "private_key": "pem",
}


class _Line:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.n = 0

    def add(self, text: str, detector: str | None = None) -> None:
        if detector:
            self.spans.append((self.n, self.n + len(text), detector))
        self.parts.append(text)
        self.n += len(text)


def generate(n_lines: int = 5000, seed: int = 1) -> EvalSet:
    """`n_lines` lines of mixed telemetry with exact labels."""
    g = _Gen(seed)
    r, f = g.rng, g.fake
    lines: list[str] = []
    labels: set[Label] = set()
    detectors = list(VALID)
    for no in range(1, n_lines + 1):
        ln = _Line()
        values: list[tuple[str | None, str]] = []
        for _ in range(r.choice([0, 1, 1, 2, 3])):
            name = r.choice(detectors)
            values.append((name, getattr(g, VALID[name])()))
        for _ in range(r.choice([0, 1, 2])):
            values.append((None, g.decoy()))
        if r.random() < 0.08:  # AWS secret: beside its key id, or under a secret-ish name
            key_id, secret = g.aws_key_id(), g.aws_secret()
            values.append(("aws_access_key_id", key_id))
            values.append(("aws_secret_access_key", secret))
        r.shuffle(values)
        fmt = r.choice(["log", "json", "csv"])
        if fmt == "log":
            ln.add(f"{f.date_time().isoformat()}Z {r.choice(['INFO', 'WARN', 'DEBUG'])} "
                   f"{f.word()}[{r.randint(1, 9999)}]: {f.sentence(nb_words=4)}")
            for det, v in values:
                key = "secret_access_key=" if det == "aws_secret_access_key" else f"{f.word()}="
                ln.add(f" {key}")
                ln.add(v, det)
            ln.add(f" path={f.uri_path()} status={r.choice([200, 301, 404, 500])}")
        elif fmt == "json":
            ln.add('{"ts": "' + f.iso8601() + '", "event": "' + f.word() + '"')
            for i, (det, v) in enumerate(values):
                key = "aws_secret_access_key" if det == "aws_secret_access_key" else f"{f.word()}_{i}"
                ln.add(f', "{key}": "')
                ln.add(json.dumps(v)[1:-1], det)
                ln.add('"')
            ln.add(', "msg": ' + json.dumps(f.sentence(nb_words=5)) + "}")
        else:
            ln.add(f"{r.randint(1, 10**6)},{f.first_name()},{f.city()}")
            for det, v in values:
                if det == "aws_secret_access_key":
                    ln.add(",secret=")
                else:
                    ln.add(",")
                ln.add(v, det)
            ln.add(f",{r.randint(1, 500)}.{r.randint(0, 99):02d},{f.date()}")
        lines.append("".join(ln.parts))
        labels.update((no, s, e, d) for s, e, d in ln.spans)
    return EvalSet(lines, labels)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate(predicted: Iterable[Label], labels: set[Label]) -> dict[str, Score]:
    pred = set(predicted)
    scores: dict[str, Score] = {}
    counts = Counter[tuple[str, str]]()
    for lab in pred | labels:
        kind = "tp" if lab in pred and lab in labels else ("fp" if lab in pred else "fn")
        counts[(lab[3], kind)] += 1
    for (det, kind), n in counts.items():
        setattr(scores.setdefault(det, Score()), kind, n)
    return dict(sorted(scores.items()))
