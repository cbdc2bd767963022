"""Ecosystems: purl types, scanner type names, and their version semantics (`univers`)."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from univers import versions as uv

# purl type -> our ecosystem name (we use purl types where they exist)
PURL_TYPES = {
    "pypi": "pypi", "npm": "npm", "golang": "golang", "maven": "maven", "deb": "deb", "apk": "apk",
    "rpm": "rpm", "gem": "gem", "cargo": "cargo", "nuget": "nuget", "composer": "composer",
    "docker": "docker", "oci": "docker", "conda": "conda", "hex": "hex", "pub": "pub", "swift": "swift",
    "cocoapods": "cocoapods", "github": "github", "generic": "generic", "bitnami": "bitnami",
    "julia": "julia", "alpm": "alpm", "hackage": "hackage", "conan": "conan",
}

# scanner package type / OSV ecosystem -> ecosystem
ALIASES = {
    "python": "pypi", "pip": "pypi", "pipenv": "pypi", "poetry": "pypi", "uv": "pypi", "python-pkg": "pypi",
    "yarn": "npm", "pnpm": "npm", "node-pkg": "npm", "javascript": "npm", "bun": "npm",
    "go": "golang", "gomod": "golang", "gobinary": "golang", "go-module": "golang",
    "java-archive": "maven", "jar": "maven", "pom": "maven", "gradle": "maven", "java": "maven", "sbt": "maven",
    "debian": "deb", "ubuntu": "deb", "distroless": "deb",
    "alpine": "apk", "wolfi": "apk", "chainguard": "apk",
    "centos": "rpm", "redhat": "rpm", "rocky": "rpm", "alma": "rpm", "amazon": "rpm", "oracle": "rpm",
    "fedora": "rpm", "suse": "rpm", "opensuse": "rpm", "photon": "rpm", "cbl-mariner": "rpm", "azurelinux": "rpm",
    "gemspec": "gem", "bundler": "gem", "rubygems": "gem", "ruby": "gem",
    "crates.io": "cargo", "rust": "cargo", "rust-crate": "cargo",
    "packagist": "composer", "php-composer": "composer", "php": "composer",
    "dotnet": "nuget", "dotnet-core": "nuget",
    "dpkg": "deb", "rhel": "rpm", "conda-pkg": "conda", "conda-environment": "conda",
}

_VERSION_CLASSES: dict[str, type[uv.Version]] = {
    "pypi": uv.PypiVersion, "npm": uv.SemverVersion, "golang": uv.GolangVersion, "maven": uv.MavenVersion,
    "deb": uv.DebianVersion, "apk": uv.AlpineLinuxVersion, "rpm": uv.RpmVersion, "gem": uv.RubygemsVersion,
    "cargo": uv.SemverVersion, "nuget": uv.NugetVersion, "composer": uv.ComposerVersion,
    "conda": uv.PypiVersion, "hex": uv.SemverVersion, "pub": uv.SemverVersion, "swift": uv.SemverVersion,
}


@lru_cache(maxsize=1024)
def ecosystem_of(kind: str | None) -> str:
    k = (kind or "").strip().lower()
    return PURL_TYPES.get(k) or ALIASES.get(k) or (k or "unknown")


def purl_type(purl: str | None) -> str | None:
    """The type of a purl without a full parse (this runs once per package)."""
    if not purl or not purl.startswith("pkg:"):
        return None
    end = purl.find("/", 4)
    return purl[4:end].lower() if end > 4 else None


def purl_name(purl: str) -> str | None:
    """`namespace/name` (Go, npm scopes) or `group:artifact` (Maven) from a purl, unescaped."""
    body = purl[4:].split("?", 1)[0].split("#", 1)[0]
    body = body.split("@", 1)[0] if "@" in body else body
    parts = body.split("/")
    if len(parts) < 2:
        return None
    kind, rest = parts[0].lower(), [unquote(p) for p in parts[1:]]
    if kind == "maven" and len(rest) >= 2:
        return f"{rest[0]}:{rest[-1]}"
    if kind in ("deb", "apk", "rpm", "alpm"):
        return rest[-1]  # the namespace is the distro
    return "/".join(rest)


def purl_version(purl: str) -> str:
    """The version of a purl, unescaped (`1.30%2Bdfsg-6` -> `1.30+dfsg-6`); empty when it has none."""
    body = purl.split("?", 1)[0].split("#", 1)[0]
    return unquote(body.rsplit("@", 1)[1]) if "@" in body[4:] else ""


class VersionError(ValueError):
    """A version string the ecosystem's rules cannot parse."""


@lru_cache(maxsize=65536)
def parse_version(ecosystem: str, text: str) -> uv.Version:
    cls = _VERSION_CLASSES.get(ecosystem)
    raw = text.strip()
    if ecosystem == "golang" and raw and not raw.startswith("v"):
        raw = "v" + raw
    if ecosystem == "npm" or ecosystem == "cargo":
        raw = raw.lstrip("v=")
    try:
        if cls is None:
            return uv.GenericVersion(raw) if raw and raw[0].isdigit() else uv.SemverVersion(raw.lstrip("v"))
        return cls(raw)
    except Exception as exc:  # univers raises InvalidVersion, ValueError, TypeError depending on scheme
        raise VersionError(f"{text!r} is not a valid {ecosystem} version") from exc


_NUM = re.compile(r"(\d+)")


@lru_cache(maxsize=65536)
def major(ecosystem: str, text: str) -> str:
    """The release line a version belongs to: first numeric component, after any epoch.

    For Go modules v0 and v1 are the same module path and line; for `0.x` semver the minor is the
    breaking component, so `0.3` and `0.4` are different lines.
    """
    raw = text.strip().lstrip("v")
    if ecosystem in ("deb", "rpm") and ":" in raw:
        raw = raw.split(":", 1)[1]
    nums = _NUM.findall(raw)
    if not nums:
        return raw
    if nums[0] == "0" and len(nums) > 1 and ecosystem in ("npm", "cargo", "golang", "hex", "pub"):
        return f"0.{nums[1]}"
    return nums[0]
