"""Alert sinks, built from the workspace's `alerts.sinks` configuration."""

from __future__ import annotations

from intelsec.alerts.sinks.interface import DeliveryError, Sink
from intelsec.alerts.sinks.jsonl import JsonlSink
from intelsec.alerts.sinks.webhook import SlackSink, WebhookSink
from intelsec.config import JsonlSinkConfig, SinkConfig, WebhookSinkConfig, Workspace

__all__ = ["DeliveryError", "JsonlSink", "Sink", "SlackSink", "WebhookSink", "build_sinks", "sink_name"]


def sink_name(cfg: SinkConfig) -> str:
    return cfg.name if isinstance(cfg, JsonlSinkConfig) else cfg.sink_name


def build_sinks(workspace: Workspace) -> dict[str, Sink]:
    sinks: dict[str, Sink] = {}
    for cfg in workspace.config.alerts.sinks:
        if isinstance(cfg, JsonlSinkConfig):
            sinks[cfg.name] = JsonlSink(workspace.path(cfg.path), name=cfg.name)
        elif isinstance(cfg, WebhookSinkConfig):
            cls = SlackSink if cfg.type == "slack" else WebhookSink
            sinks[cfg.sink_name] = cls(cfg.resolved_url(), name=cfg.sink_name, timeout=cfg.timeout_seconds,
                                       headers=cfg.headers)
    return sinks
