"""CVSS vectors -> scores with the `cvss` library (scanner-supplied numbers are not trusted)."""

from __future__ import annotations

from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from intelsec.sbom.models import Cvss, severity_from_score


@lru_cache(maxsize=8192)
def score_vector(vector: str) -> Cvss | None:
    """Score a CVSS v2/v3.x/v4 vector; None when the vector is malformed."""
    v = vector.strip()
    try:
        if v.startswith("CVSS:4"):
            c4 = CVSS4(v)
            score = float(c4.base_score)
            return Cvss("4.0", c4.clean_vector(), score, severity_from_score(score))
        if v.startswith("CVSS:3"):
            c3 = CVSS3(v)
            score = float(c3.base_score)
            return Cvss(v[5:8], c3.clean_vector(), score, severity_from_score(score))
        c2 = CVSS2(v.removeprefix("(").removesuffix(")"))
        score = float(c2.base_score)
        return Cvss("2.0", c2.clean_vector(), score, severity_from_score(score))
    except (CVSSError, ValueError, KeyError, IndexError):
        return None


def best(scores: list[Cvss]) -> Cvss | None:
    """The newest CVSS version wins; within a version, the highest score."""
    if not scores:
        return None
    return max(scores, key=lambda c: (c.version != "2.0", c.version, c.score))
