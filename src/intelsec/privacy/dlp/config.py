"""User DLP patterns from the workspace's `dlp/policies.yaml`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from intelsec.errors import ConfigError


def _builtin_ids() -> frozenset[str]:
    from intelsec.privacy.dlp.detectors import BUILTIN_IDS

    return BUILTIN_IDS


class DlpPattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    regex: str
    luhn: bool = False
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    description: str = ""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            rx = re.compile(value, re.ASCII)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        if rx.fullmatch(""):
            raise ValueError("regular expression matches the empty string")
        return value

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, value: str) -> str:
        if value in _builtin_ids():
            raise ValueError(f"{value!r} is a built-in detector; choose another name (or `disable` it)")
        return value


class DlpPolicies(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patterns: list[DlpPattern] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list, description="built-in detector ids to turn off")

    @model_validator(mode="after")
    def _unique(self) -> DlpPolicies:
        names = [p.name for p in self.patterns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate pattern names: {', '.join(dupes)}")
        unknown = sorted(set(self.disable) - _builtin_ids())
        if unknown:
            raise ValueError(f"unknown built-in detector(s) in disable: {', '.join(unknown)}")
        return self


def load_policies(path: Path) -> tuple[DlpPolicies, list[tuple[int | None, str]]]:
    """Load leniently for a scan: each bad pattern becomes one (line, message) and is left out.

    The scan goes on with the valid patterns; `intelsec config validate` stays strict.
    """
    from intelsec.yamlio import read_yaml

    try:
        doc = read_yaml(path)
    except ConfigError as exc:
        return DlpPolicies(), [(None, str(exc).removeprefix(f"{path}: "))]
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        return DlpPolicies(), [(1, "expected a mapping with `patterns:`")]
    errors: list[tuple[int | None, str]] = []
    good: list[DlpPattern] = []
    raw = data.get("patterns") or []
    if not isinstance(raw, list):
        errors.append((doc.line_of(("patterns",)), "patterns: expected a list"))
        raw = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        try:
            pat = DlpPattern.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("patterns", i, *err["loc"])
                field = ".".join(str(x) for x in loc)
                errors.append((doc.line_of(loc), f"{field}: {err['msg'].removeprefix('Value error, ')}"))
            continue
        if pat.name in seen:
            errors.append((doc.line_of(("patterns", i)), f"duplicate pattern name {pat.name!r}"))
            continue
        seen.add(pat.name)
        good.append(pat)
    try:
        rest = DlpPolicies.model_validate({k: v for k, v in data.items() if k != "patterns"})
    except ValidationError as exc:
        errors.extend((doc.line_of(tuple(e["loc"])), f"{'.'.join(map(str, e['loc'])) or 'disable'}: "
                       f"{e['msg'].removeprefix('Value error, ')}") for e in exc.errors())
        rest = DlpPolicies()
    return DlpPolicies(patterns=good, disable=rest.disable), errors
