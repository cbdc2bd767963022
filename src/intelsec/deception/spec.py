"""Read the workspace's deception files into one list of asset specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from intelsec.config import Workspace
from intelsec.deception.schemas import AssetsFile, CanaryRoute, Rotation
from intelsec.errors import ConfigError
from intelsec.yamlio import load_model

ROUTES_FILE = "deception/canary-routes.yaml"
ASSETS_FILE = "deception/assets.yaml"


class AssetSpec(BaseModel):
    id: str
    kind: str
    owner: str
    placement: str
    severity: str
    fp_budget_per_week: int
    rotation: Rotation | None
    extra: dict[str, Any]


class DeceptionConfig(BaseModel):
    settings: AssetsFile
    assets: list[AssetSpec]

    def canary_base(self) -> str:
        return self.settings.canary_url_base or self.settings.control_plane_url.rstrip("/") + "/api/v1/beacons/u"

    def routes(self, service: str | None = None) -> list[AssetSpec]:
        return [a for a in self.assets if a.kind == "canary_route"
                and (service is None or a.extra["service"] == service)]


def load_config(ws: Workspace) -> DeceptionConfig:
    """Both files (each optional); duplicate asset ids are refused naming the file."""
    settings = AssetsFile()
    if ws.path(ASSETS_FILE).is_file():
        settings = load_model(ws.path(ASSETS_FILE), AssetsFile)
    routes: list[CanaryRoute] = []
    if ws.path(ROUTES_FILE).is_file():
        routes = load_model(ws.path(ROUTES_FILE), list[CanaryRoute]) or []
    specs: list[AssetSpec] = []
    for r in routes:
        extra = r.model_dump(include={"service", "route", "method", "tag", "response"})
        specs.append(_spec(r.asset_id(), "canary_route", r, extra, settings, ws.path(ROUTES_FILE)))
    for a in settings.assets:
        extra = {"role": a.role} if a.kind == "honey_db_user" else {"prefix": a.prefix} if a.kind == "api_token" else {}
        specs.append(_spec(a.id, a.kind, a, extra, settings, ws.path(ASSETS_FILE)))
    seen: dict[str, int] = {}
    for s in specs:
        seen[s.id] = seen.get(s.id, 0) + 1
    dupes = sorted(k for k, n in seen.items() if n > 1)
    if dupes:
        raise ConfigError(f"{ws.path('deception')}: duplicate asset id(s): {', '.join(dupes)}")
    return DeceptionConfig(settings=settings, assets=specs)


def _spec(asset_id: str, kind: str, opts: Any, extra: dict[str, Any], settings: AssetsFile, where: Path) -> AssetSpec:
    d = settings.defaults
    placement = opts.placement or (f"service {extra['service']}" if kind == "canary_route" else "")
    if not placement:
        raise ConfigError(f"{where}: asset {asset_id!r} needs a `placement` (where it is planted)")
    return AssetSpec(
        id=asset_id, kind=kind, owner=opts.owner or d.owner, placement=placement,
        severity=opts.severity or d.severity,
        fp_budget_per_week=d.fp_budget_per_week if opts.fp_budget_per_week is None else opts.fp_budget_per_week,
        rotation=opts.rotation or d.rotation, extra=extra,
    )
