"""Git operations of the PR bot: one branch and one deterministic commit per plan.

Commits reuse the base commit's timestamps and a fixed identity unless the repository has one, so
re-running on an unchanged base produces the same commit id and the push is a no-op.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from intelsec.errors import InputError

BOT_NAME = "intelsec-sbom"
BOT_EMAIL = "intelsec-sbom@users.noreply.github.com"


class Git:
    def __init__(self, repo: Path, timeout: float = 60.0) -> None:
        self.repo = repo
        self.timeout = timeout
        if not repo.is_dir():
            raise InputError(f"--repo {repo}: no such directory")
        top = self.run("rev-parse", "--show-toplevel", check=False)
        if top is None:
            raise InputError(f"{repo}: not a git repository (sbom fix edits manifests on branches)")

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str | None:
        proc = subprocess.run(["git", *args], cwd=self.repo, capture_output=True, text=True, timeout=self.timeout,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})})
        if proc.returncode != 0:
            if check:
                raise InputError(f"git {' '.join(args[:3])} failed in {self.repo}: {proc.stderr.strip()[:300]}")
            return None
        return proc.stdout.strip()

    def current_branch(self) -> str:
        name = self.run("rev-parse", "--abbrev-ref", "HEAD", check=False)
        if name is None:
            raise InputError(f"{self.repo}: no commit yet; commit the manifests first")
        if name == "HEAD":
            raise InputError(f"{self.repo}: detached HEAD; check out the base branch first (or pass --base)")
        return name

    def has_remote(self, name: str = "origin") -> bool:
        return name in (self.run("remote") or "").split()

    def dirty(self) -> list[str]:
        out = self.run("status", "--porcelain", "--untracked-files=no") or ""
        return [line[3:] for line in out.splitlines()]

    def identity_env(self, base: str) -> dict[str, str]:
        date = self.run("log", "-1", "--format=%cI", base) or ""
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        if not self.run("config", "user.email", check=False):
            env.update(GIT_AUTHOR_NAME=BOT_NAME, GIT_AUTHOR_EMAIL=BOT_EMAIL, GIT_COMMITTER_NAME=BOT_NAME,
                       GIT_COMMITTER_EMAIL=BOT_EMAIL)
        return env

    def commit_on_branch(self, branch: str, base: str, message: str, edit: Callable[[], list[Path]]) -> list[Path]:
        """(Re)create `branch` from `base`, run `edit`, commit what it changed. Always returns to `base`."""
        if self.dirty():
            raise InputError(f"{self.repo}: uncommitted changes ({', '.join(self.dirty()[:3])}); commit or stash first")
        self.run("checkout", "-q", "-B", branch, base)
        try:
            changed = edit()
            if changed and message:
                self.run("add", "--", *[str(p.relative_to(self.repo)) for p in changed])
                self.run("commit", "-q", "--no-verify", "-m", message, env=self.identity_env(base))
            return changed
        finally:
            self.run("checkout", "-q", "-f", base)
            if not self.run("rev-list", "-1", f"{base}..{branch}", check=False):
                self.run("branch", "-q", "-D", branch, check=False)  # nothing committed: no empty branch

    def push(self, branch: str, remote: str = "origin") -> None:
        self.run("push", "-q", "--force-with-lease", remote, f"{branch}:refs/heads/{branch}")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:40] or "package"
