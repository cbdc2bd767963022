"""The identity policy engine: the workspace policies plus `identity/authz.yaml` as policy data."""

from __future__ import annotations

from typing import Any

from intelsec.config import Workspace
from intelsec.identity.schemas import ServiceAuthz
from intelsec.policy.engine import Engine
from intelsec.policy.workspace import engine_for_workspace
from intelsec.yamlio import load_model

AUTHZ_FILE = "identity/authz.yaml"


def identity_engine(workspace: Workspace) -> Engine:
    """`data.workspace.identity.authz` holds the caller allow-lists when the workspace has them."""
    engine = engine_for_workspace(workspace)
    path = workspace.path(AUTHZ_FILE)
    if path.is_file():
        rules: Any = load_model(path, list[ServiceAuthz])  # type: ignore[arg-type]
        engine.set_data("workspace.identity.authz", [r.model_dump(exclude_none=True) for r in rules])
        engine.compile()
    return engine
