"""Build the alert service and dispatcher a workspace configures."""

from __future__ import annotations

from datetime import timedelta

from intelsec.alerts.dispatcher import Dispatcher
from intelsec.alerts.service import AlertService
from intelsec.alerts.sinks import build_sinks, sink_name
from intelsec.clock import Clock
from intelsec.config import Workspace
from intelsec.store.db import Database


def alert_service(workspace: Workspace, db: Database, clock: Clock | None = None) -> AlertService:
    cfg = workspace.config.alerts
    return AlertService(
        db,
        sinks=[sink_name(s) for s in cfg.sinks],
        clock=clock,
        dedup_window=timedelta(seconds=cfg.dedup_window_seconds),
    )


def dispatcher(workspace: Workspace, db: Database, clock: Clock | None = None) -> Dispatcher:
    return Dispatcher(db, build_sinks(workspace), workspace.config.alerts.dispatcher, clock=clock)
