"""The manifest-editor interface: one module per manifest format, minimal format-preserving edits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from intelsec.sbom.ecosystems import VersionError, parse_version


@dataclass(frozen=True)
class Bump:
    """Move `name` from `installed` to `target` (versions as the ecosystem writes them)."""

    ecosystem: str
    name: str
    installed: str
    target: str


class Editor(ABC):
    """Finds its manifests in a repository and rewrites only the version text that must change."""

    ecosystems: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def files(self, repo: Path) -> list[Path]:
        found: set[Path] = set()
        for pattern in self.patterns:
            found.update(p for p in repo.rglob(pattern) if p.is_file() and not _ignored(p, repo))
        return sorted(found)

    @abstractmethod
    def edit(self, text: str, bump: Bump) -> str | None:
        """The new file content, or None when this file does not pin the package."""


def below(ecosystem: str, current: str, target: str) -> bool:
    """Whether a manifest's `current` version is lower than `target` (or not comparable): a bump
    never lowers what a manifest already asks for, even when the SBOM saw an older build."""
    try:
        return bool(parse_version(ecosystem, current.removesuffix(".*")) < parse_version(ecosystem, target))
    except VersionError:
        return True


def _ignored(path: Path, repo: Path) -> bool:
    parts = path.relative_to(repo).parts
    return any(p in (".git", "node_modules", ".venv", "venv", "vendor", "__pycache__", ".intelsec") for p in parts)
