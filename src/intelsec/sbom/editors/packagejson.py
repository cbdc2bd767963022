"""package.json: the version range of one dependency, edited in the text so formatting stays."""

from __future__ import annotations

import json
import re

from intelsec.sbom.editors.interface import Bump, Editor, below

SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_RANGE = re.compile(r"^(?P<op>\^|~|>=|=|v)?(?P<ver>\d[0-9A-Za-z.+-]*)$")


class PackageJsonEditor(Editor):
    ecosystems = ("npm",)
    patterns = ("package.json",)

    def edit(self, text: str, bump: Bump) -> str | None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        specs = {data[s][bump.name] for s in SECTIONS if isinstance(data.get(s), dict) and bump.name in data[s]}
        out = text
        for spec in specs:
            m = _RANGE.match(str(spec).strip())
            if not m or not below("npm", m["ver"], bump.target):
                continue  # "*", "latest", git/file/workspace specs, or already at/above the target
            new_spec = f"{m['op'] or ''}{bump.target}"
            pattern = re.compile(r'("' + re.escape(bump.name) + r'"\s*:\s*")' + re.escape(str(spec)) + '"')
            out = pattern.sub(lambda mm: mm.group(1) + new_spec + '"', out)  # noqa: B023 (used at once)
        return out if out != text else None
