"""Fixtures: a deployed fresh workspace with its registry and alert service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from intelsec.alerts.factory import alert_service
from intelsec.alerts.service import AlertService
from intelsec.clock import FrozenClock, SystemClock
from intelsec.config import Workspace
from intelsec.deception.registry import Registry
from intelsec.deception.spec import DeceptionConfig, load_config
from intelsec.store.db import Database, upgrade


@dataclass
class Deployed:
    ws: Workspace
    cfg: DeceptionConfig
    db: Database
    registry: Registry
    alerts: AlertService
    clock: FrozenClock | SystemClock


def _deploy(root: Path, url: str, clock: FrozenClock | SystemClock) -> Deployed:
    ws = Workspace.load(root)
    upgrade(url)
    db = Database(url)
    cfg = load_config(ws)
    registry = Registry(db, clock, ws.state_dir)
    registry.deploy(cfg.assets, cfg.canary_base())
    return Deployed(ws, cfg, db, registry, alert_service(ws, db, clock), clock)


@pytest.fixture
def deployed(workspace_dir: Path) -> Iterator[Deployed]:
    """The template workspace deployed on SQLite with the wall clock (for live servers)."""
    d = _deploy(workspace_dir, f"sqlite:///{workspace_dir / '.intelsec' / 'state.db'}", SystemClock())
    yield d
    d.db.dispose()


@pytest.fixture
def frozen(workspace_dir: Path, db_url: str) -> Iterator[Deployed]:
    """The template workspace deployed on SQLite and PostgreSQL with a frozen clock."""
    d = _deploy(workspace_dir, db_url, FrozenClock())
    yield d
    d.db.dispose()
