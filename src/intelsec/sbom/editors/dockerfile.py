"""Dockerfile `FROM image:tag` lines (any registry prefix; a pinned digest is dropped with the old tag)."""

from __future__ import annotations

import re

from intelsec.sbom.editors.interface import Bump, Editor


def _short(image: str) -> str:
    name = image.split("/", 1)[1] if "/" in image and ("." in image.split("/")[0] or ":" in image.split("/")[0]) \
        else image
    return name.removeprefix("library/")


class DockerfileEditor(Editor):
    ecosystems = ("docker",)
    patterns = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "Containerfile")

    def edit(self, text: str, bump: Bump) -> str | None:
        pattern = re.compile(r"^(?P<head>\s*FROM\s+(?:--\S+\s+)*)(?P<image>[^\s:@]+(?::\d+/[^\s:@]+)?)"
                             r":(?P<tag>[^\s@]+)(?P<digest>@sha256:[0-9a-f]{64})?", re.M | re.I)

        def repl(m: re.Match[str]) -> str:
            if _short(m["image"]) != _short(bump.name) or m["tag"] != bump.installed:
                return m.group(0)
            return f"{m['head']}{m['image']}:{bump.target}"

        out = pattern.sub(repl, text)
        return out if out != text else None
