"""The `sbom-fix.yml` workflow that `intelsec init` writes calls the CLI with options that exist."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer.main
import yaml

from intelsec.cli.sbom import app


def test_workflow_commands_match_the_cli(workspace_dir: Path) -> None:
    wf = yaml.safe_load((workspace_dir / ".github/workflows/sbom-fix.yml").read_text())
    runs = [s["run"] for s in wf["jobs"]["propose-fixes"]["steps"] if "intelsec sbom" in s.get("run", "")]
    assert len(runs) == 2
    group = typer.main.get_group(app)
    for run in runs:
        argv = shlex.split(run.split(">")[0].replace("${{ github.repository }}", "o/r"))
        assert argv[:2] == ["intelsec", "sbom"]
        cmd = group.commands[argv[2]]
        known = {o for p in cmd.params for o in p.opts + p.secondary_opts}
        used = {a for a in argv[3:] if a.startswith("--")}
        assert used <= known, used - known
