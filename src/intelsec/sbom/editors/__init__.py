"""Apply a version bump to every manifest of a repository that pins the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from intelsec.sbom.editors.dockerfile import DockerfileEditor
from intelsec.sbom.editors.gomod import GoModEditor
from intelsec.sbom.editors.interface import Bump, Editor
from intelsec.sbom.editors.packagejson import PackageJsonEditor
from intelsec.sbom.editors.pyproject import PyprojectEditor
from intelsec.sbom.editors.requirements import RequirementsEditor

EDITORS: list[Editor] = [RequirementsEditor(), PyprojectEditor(), PackageJsonEditor(), GoModEditor(),
                         DockerfileEditor()]


@dataclass
class EditResult:
    changed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def apply_bump(repo: Path, bump: Bump, write: bool = True) -> EditResult:
    result = EditResult()
    for editor in EDITORS:
        if bump.ecosystem not in editor.ecosystems:
            continue
        for path in editor.files(repo):
            try:
                text = path.read_text(encoding="utf-8")
                new = editor.edit(text, bump)
            except ValueError as exc:  # conflicting upper bound, unparsable manifest...
                result.notes.append(f"{path.relative_to(repo)}: {exc}")
                continue
            except UnicodeDecodeError:
                continue
            if new is not None and new != text:
                if write:
                    path.write_text(new, encoding="utf-8")
                result.changed.append(path)
    return result


__all__ = ["EDITORS", "Bump", "EditResult", "apply_bump"]
