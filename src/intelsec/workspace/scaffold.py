"""`intelsec init`: copy the workspace template, never overwriting without force."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent / "template"


@dataclass
class InitResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def template_files() -> list[Path]:
    return sorted(p.relative_to(TEMPLATE_DIR) for p in TEMPLATE_DIR.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def init_workspace(target: Path, force: bool = False) -> InitResult:
    result = InitResult()
    for rel in template_files():
        dest = target / rel
        if dest.exists() and not force:
            result.skipped.append(rel)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE_DIR / rel, dest)
        result.written.append(rel)
    (target / ".intelsec").mkdir(parents=True, exist_ok=True)
    gitignore = target / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".intelsec/\n", encoding="utf-8")
    return result
