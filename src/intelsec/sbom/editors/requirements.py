"""pip requirements files (`requirements*.txt`): one line changes, comments and layout stay."""

from __future__ import annotations

from intelsec.sbom.editors.interface import Bump, Editor
from intelsec.sbom.editors.pep508 import bump_requirement


class RequirementsEditor(Editor):
    ecosystems = ("pypi",)
    patterns = ("requirements*.txt", "requirements/*.txt")

    def edit(self, text: str, bump: Bump) -> str | None:
        lines = text.splitlines(keepends=True)
        changed = False
        for i, line in enumerate(lines):
            body = line.rstrip("\r\n")
            if not body.strip() or body.lstrip().startswith(("#", "-")):
                continue
            new = bump_requirement(body, bump.name, bump.target)
            if new is not None and new != body:
                lines[i] = new + line[len(body):]
                changed = True
        return "".join(lines) if changed else None
