"""go.mod `require` lines (single and block form); `replace` directives are left alone."""

from __future__ import annotations

import re

from intelsec.sbom.editors.interface import Bump, Editor, below


class GoModEditor(Editor):
    ecosystems = ("golang",)
    patterns = ("go.mod",)

    def edit(self, text: str, bump: Bump) -> str | None:
        target = bump.target if bump.target.startswith("v") else "v" + bump.target
        line = re.compile(r"^(?P<head>\s*(?:require\s+)?" + re.escape(bump.name) + r"\s+)(?P<ver>v[^\s/]+)", re.M)
        out, in_block = [], False
        changed = False
        for raw in text.splitlines(keepends=True):
            stripped = raw.strip()
            if stripped.startswith(("require (", "require(")):
                in_block = True
            elif in_block and stripped.startswith(")"):
                in_block = False
            elif in_block or stripped.startswith("require "):
                new = line.sub(lambda m: m["head"] + target if below("golang", m["ver"], target) else m.group(0),
                               raw, count=1)
                changed |= new != raw
                raw = new
            out.append(raw)
        return "".join(out) if changed else None
