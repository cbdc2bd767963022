"""pyproject.toml: PEP 621 `[project]` dependencies and Poetry dependency tables, via tomlkit
(which keeps comments, ordering and whitespace)."""

from __future__ import annotations

import re
from typing import Any

import tomlkit

from intelsec.sbom.editors.interface import Bump, Editor, below
from intelsec.sbom.editors.pep508 import bump_requirement
from intelsec.sbom.models import normalise_name

_POETRY = re.compile(r"^(?P<op>\^|~=|~|==|>=|=)?(?P<ws>\s*)(?P<ver>[0-9][A-Za-z0-9.*+!_-]*)$")


def _poetry_constraint(value: str, target: str) -> str | None:
    m = _POETRY.match(value.strip())
    if not m or not below("pypi", m["ver"], target):
        return None  # ranges with upper bounds, "*", paths (left for a human), or already at/above target
    return f"{m['op'] or ''}{m['ws']}{target}"


class PyprojectEditor(Editor):
    ecosystems = ("pypi",)
    patterns = ("pyproject.toml",)

    def edit(self, text: str, bump: Bump) -> str | None:
        doc = tomlkit.parse(text)
        changed = False
        project: Any = doc.get("project", {})
        arrays = [project.get("dependencies", []), *project.get("optional-dependencies", {}).values()]
        for arr in arrays:
            for i, req in enumerate(list(arr)):
                new = bump_requirement(str(req), bump.name, bump.target)
                if new is not None and new != str(req):
                    arr[i] = new
                    changed = True
        poetry: Any = doc.get("tool", {}).get("poetry", {})
        tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
        tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
        for table in tables:
            for key in list(table.keys()):
                if normalise_name("pypi", str(key)) != normalise_name("pypi", bump.name):
                    continue
                value = table[key]
                if isinstance(value, str):
                    new_c = _poetry_constraint(value, bump.target)
                    if new_c and new_c != value:
                        table[key] = new_c
                        changed = True
                elif hasattr(value, "get") and isinstance(value.get("version"), str):
                    new_c = _poetry_constraint(value["version"], bump.target)
                    if new_c and new_c != value["version"]:
                        value["version"] = new_c
                        changed = True
        return tomlkit.dumps(doc) if changed else None
