"""Build a policy Engine from a workspace: bundled policies, `policies/`, and declared data files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from intelsec.config import Workspace
from intelsec.errors import ConfigError
from intelsec.policy.engine import BUNDLED_DIR, Engine
from intelsec.yamlio import read_yaml


def load_data_file(path: Path) -> Any:
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot load policy data: {exc}") from None
    return read_yaml(path).data


def workspace_data(workspace: Workspace) -> dict[str, Any]:
    """Everything policies may read under `data.workspace` besides the declared files."""
    cfg = workspace.config
    return {"workspace.config": {"name": cfg.name, "trust_domain": cfg.trust_domain,
                                 "environments": cfg.environments}}


def engine_for_workspace(workspace: Workspace, include_tests: bool = False) -> Engine:
    engine = Engine()
    engine.add_dir(BUNDLED_DIR, include_tests=include_tests)
    v0 = [str(workspace.path(f)) for f in workspace.config.policy.rego_v0]
    for d in workspace.config.policy.dirs:
        directory = workspace.path(d)
        if directory.is_dir():
            engine.add_dir(directory, include_tests=include_tests, v0_files=v0)
    engine.merge_data(workspace_data(workspace))
    for dotted, rel in workspace.config.policy.data.items():
        path = workspace.path(rel)
        if path.is_file():
            engine.set_data(dotted, load_data_file(path))
    engine.compile()
    return engine
