"""EPSS (FIRST's daily CSV) and CISA KEV (JSON catalog) from local files, a workspace cache, or
a download (`intelsec sbom feeds update`).

Readers accept what these projects publish: EPSS `epss_scores-YYYY-MM-DD.csv[.gz]` (a `#model_version`
comment line, then `cve,epss,percentile`) or a JSON list of `{cve, epss, percentile}` records; KEV as
the JSON catalog, its CSV twin, or a JSON list of catalog entries.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intelsec.errors import InputError

EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
EPSS_CACHE = "epss_scores-current.csv.gz"
KEV_CACHE = "known_exploited_vulnerabilities.json"


@dataclass
class Feed:
    """One loaded feed and where it came from (its age is shown to the user)."""

    name: str
    path: str | None = None
    age_days: float | None = None
    version: str | None = None
    epss: dict[str, tuple[float, float]] = field(default_factory=dict)  # cve -> (probability, percentile)
    kev: dict[str, dict[str, Any]] = field(default_factory=dict)  # cve -> catalog entry (dates, ransomware)

    def describe(self) -> dict[str, Any]:
        size = len(self.epss) if self.name == "epss" else len(self.kev)
        age = None if self.age_days is None else round(self.age_days, 1)
        return {"path": self.path, "entries": size, "age_days": age, "version": self.version}


def _raw(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    return data


def _age(path: Path, now: float | None = None) -> float:
    return max(0.0, ((now or time.time()) - path.stat().st_mtime) / 86400)


def load_epss(path: str | Path, now: float | None = None) -> Feed:
    p = Path(path)
    raw = _raw(p)
    feed = Feed("epss", str(p), _age(p, now))
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        for i, rec in enumerate(records if isinstance(records, list) else []):
            if isinstance(rec, dict) and isinstance(rec.get("cve"), str):
                try:
                    feed.epss[rec["cve"].upper()] = (float(rec.get("epss") or 0), float(rec.get("percentile") or 0))
                except (TypeError, ValueError):
                    raise InputError(f"{p}: [{i}]: bad EPSS record for {rec['cve'][:40]}") from None
        return feed
    lines = text.splitlines()
    start = 0
    if lines and lines[0].startswith("#"):
        feed.version = lines[0].lstrip("#").strip()
        start = 1
    if len(lines) <= start or not lines[start].lower().startswith("cve,epss"):
        raise InputError(f"{p}:{start + 1}: not an EPSS CSV (expected header `cve,epss,percentile`)")
    for n, line in enumerate(lines[start + 1:], start=start + 2):
        parts = line.split(",")
        if len(parts) < 2:
            continue
        try:
            feed.epss[parts[0].upper()] = (float(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0)
        except ValueError:
            raise InputError(f"{p}:{n}: bad EPSS row {line[:60]!r}") from None
    return feed


def load_kev(path: str | Path, now: float | None = None) -> Feed:
    p = Path(path)
    raw = _raw(p)
    feed = Feed("kev", str(p), _age(p, now))
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        entries = data.get("vulnerabilities") if isinstance(data, dict) else data
        if isinstance(data, dict):
            feed.version = data.get("catalogVersion")
        if not isinstance(entries, list):
            raise InputError(f"{p}: not a KEV catalog (no `vulnerabilities` list)")
    else:
        reader = csv.DictReader(io.StringIO(text))
        if "cveID" not in (reader.fieldnames or []):
            raise InputError(f"{p}:1: not a KEV CSV (expected a `cveID` column)")
        entries = list(reader)
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("cveID"), str):
            feed.kev[e["cveID"].upper()] = {k: e.get(k) for k in ("dateAdded", "dueDate", "knownRansomwareCampaignUse")}
    return feed


def cache_dir(state_dir: Path) -> Path:
    return state_dir / "feeds"


def resolve(explicit: str | Path | None, state_dir: Path | None, cache_name: str) -> Path | None:
    """An explicit file wins; else the workspace cache when present."""
    if explicit:
        return Path(explicit)
    if state_dir is not None:
        cached = cache_dir(state_dir) / cache_name
        if cached.is_file():
            return cached
    return None


def download(url: str, dest: Path, timeout: float = 30.0, check: Callable[[Path], object] | None = None) -> int:
    """Fetch `url` to `dest` atomically; `check` (a loader) must accept the download before it
    replaces the cache. Raise InputError naming the cached copy's age when offline or refused."""
    import httpx

    def kept() -> str:
        return f"cached copy from {_age(dest):.1f} days ago is still used" if dest.is_file() \
            else "no cached copy: pass the file with --epss/--kev"

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True) as client:
            resp = client.get(url)
            resp.raise_for_status()
            body = resp.content
    except httpx.HTTPError as exc:
        raise InputError(f"cannot download {url}: {type(exc).__name__}: {exc}; {kept()}") from None
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(body)
    try:
        if check is not None:
            check(tmp)  # a proxy's login page must not replace a good cache
    except InputError as exc:
        tmp.unlink(missing_ok=True)
        why = str(exc).split(": ", 1)[-1]
        raise InputError(f"{url}: not the expected feed ({why}); {kept()}") from None
    os.replace(tmp, dest)
    return len(body)
