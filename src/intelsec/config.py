"""Workspace and settings: one place for paths, URLs and the `intelsec.yaml` model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intelsec.errors import ConfigError
from intelsec.yamlio import load_model

CONFIG_FILE = "intelsec.yaml"
STATE_DIR = ".intelsec"
DATABASE_ENV = "INTELSEC_DATABASE_URL"
WORKSPACE_ENV = "INTELSEC_WORKSPACE"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JsonlSinkConfig(_Strict):
    type: Literal["jsonl"]
    name: str = "jsonl"
    path: str = ".intelsec/alerts.jsonl"


class WebhookSinkConfig(_Strict):
    """Generic JSON webhook. Give the URL directly or, when it embeds a secret, via `url_env`."""

    type: Literal["webhook", "slack"]
    name: str | None = None
    url: str | None = None
    url_env: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        if self.url_env:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(f"alert sink {self.sink_name!r}: environment variable {self.url_env} is not set")
            return value
        raise ConfigError(f"alert sink {self.sink_name!r}: set `url` or `url_env`")

    @property
    def sink_name(self) -> str:
        return self.name or self.type


SinkConfig = Annotated[JsonlSinkConfig | WebhookSinkConfig, Field(discriminator="type")]


def _default_sink() -> SinkConfig:
    return JsonlSinkConfig(type="jsonl")


class DispatcherConfig(_Strict):
    max_attempts: int = Field(default=12, ge=1, le=100)
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=300.0, gt=0)
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)


class AlertsConfig(_Strict):
    dedup_window_seconds: int = Field(default=600, ge=0)
    sinks: list[SinkConfig] = Field(default_factory=lambda: [_default_sink()])
    dispatcher: DispatcherConfig = Field(default_factory=DispatcherConfig)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)


class ApiToken(_Strict):
    """A static bearer token for API callers; the secret itself lives in an environment variable."""

    name: str
    token_env: str
    scopes: list[str] = Field(default_factory=lambda: ["read"])


class PolicyConfig(_Strict):
    dirs: list[str] = Field(default_factory=lambda: ["policies"])
    rego_v0: list[str] = Field(default_factory=list, description="policy files written in Rego v0 syntax")
    data: dict[str, str] = Field(
        default_factory=lambda: {"workspace.egress.allowlist": "egress/allowlist.yaml"},
        description="data path -> YAML/JSON file loaded as policy data",
    )


class WorkspaceConfig(_Strict):
    """The `intelsec.yaml` file at the root of a controls workspace."""

    version: Literal[1] = 1
    name: str = "controls"
    trust_domain: str = "example.com"
    environments: list[str] = Field(default_factory=lambda: ["staging", "prod"])
    database: str | None = None
    server: ServerConfig = Field(default_factory=ServerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    api_tokens: list[ApiToken] = Field(default_factory=list)
    # Capability sections are parsed by their own packages, so each owns its settings.
    identity: dict[str, Any] = Field(default_factory=dict)
    deception: dict[str, Any] = Field(default_factory=dict)
    egress: dict[str, Any] = Field(default_factory=dict)
    sbom: dict[str, Any] = Field(default_factory=dict)
    validation: dict[str, Any] = Field(default_factory=dict)
    privacy: dict[str, Any] = Field(default_factory=dict)


class Workspace:
    """A controls workspace on disk: its root, parsed config and derived paths."""

    def __init__(self, root: Path, config: WorkspaceConfig) -> None:
        self.root = root
        self.config = config

    @classmethod
    def load(cls, root: str | Path | None = None) -> Workspace:
        base = Path(root or os.environ.get(WORKSPACE_ENV) or ".").resolve()
        cfg_path = base / CONFIG_FILE
        if not cfg_path.is_file():
            raise ConfigError(
                f"{cfg_path}: not an intelsec workspace (no {CONFIG_FILE}); create one with `intelsec init {base}`"
            )
        return cls(base, load_model(cfg_path, WorkspaceConfig))

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def path(self, relative: str | Path) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    def database_url(self, override: str | None = None) -> str:
        """CLI flag > INTELSEC_DATABASE_URL > intelsec.yaml `database` > SQLite under .intelsec/."""
        url = override or os.environ.get(DATABASE_ENV) or self.config.database
        if url:
            return url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.state_dir / 'state.db'}"
