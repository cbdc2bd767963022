"""The asset registry: deploy specs into the store, version material, rotate, record touches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from intelsec.clock import Clock, SystemClock, parse_duration
from intelsec.deception.honeytokens import new_material, planted_values
from intelsec.deception.schemas import Rotation
from intelsec.deception.sealing import material_key, seal, unseal
from intelsec.deception.spec import AssetSpec
from intelsec.deception.tables import DeceptionAsset, DeceptionMaterial, DeceptionTouch
from intelsec.errors import ConfigError, NotFoundError
from intelsec.store.db import Database


class AssetView(BaseModel):
    """An asset as shown to users: never any secret material."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    placement: str
    owner: str
    severity: str
    status: str
    spec: dict[str, Any]
    created_at: datetime
    rotated_at: datetime
    next_rotation_at: datetime | None
    last_touched_at: datetime | None
    touch_count: int
    last_test_at: datetime | None
    last_test_ok: bool | None


@dataclass
class Material:
    asset_id: str
    kind: str
    version: int
    public: str
    expires_at: datetime | None
    secret: dict[str, str] = field(repr=False)

    @property
    def key(self) -> str:
        return self.secret["key"]


@dataclass
class DeployReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def next_rotation(rotation: Rotation | None, after: datetime) -> datetime | None:
    if rotation is None:
        return None
    if rotation.every:
        return after + parse_duration(rotation.every)
    from croniter import croniter

    nxt: datetime = croniter(rotation.cron, after).get_next(datetime)
    return nxt


class Registry:
    def __init__(self, db: Database, clock: Clock | None = None, state_dir: Path | None = None) -> None:
        """`state_dir` (the workspace's .intelsec) holds the sealing key and the honeytoken filter."""
        self.db = db
        self.clock = clock or SystemClock()
        self.state_dir = state_dir
        self._seal_key = material_key(state_dir) if state_dir is not None else None

    # -- deploy -------------------------------------------------------------------------------
    def deploy(self, specs: list[AssetSpec], canary_base: str) -> DeployReport:
        """Create missing assets, update changed ones, retire ones no longer declared."""
        now = self.clock.now()
        report = DeployReport()
        planted: list[str] = []
        declared = {s.id for s in specs}
        with self.db.session() as s:
            existing = {a.id: a for a in s.scalars(select(DeceptionAsset))}
            for spec in specs:
                row = existing.get(spec.id)
                spec_doc = spec.model_dump(mode="json", exclude={"id", "kind", "owner", "placement", "severity"})
                if row is None:
                    row = DeceptionAsset(id=spec.id, kind=spec.kind, placement=spec.placement, owner=spec.owner,
                                         severity=spec.severity, status="active", spec=spec_doc, created_at=now,
                                         updated_at=now, rotated_at=now, touch_count=0,
                                         next_rotation_at=next_rotation(spec.rotation, now))
                    s.add(row)
                    s.flush()
                    planted += self._new_version(s, row, 1, canary_base)
                    report.created.append(spec.id)
                    continue
                if row.kind != spec.kind:
                    raise ConfigError(f"asset {spec.id!r} is a {row.kind} in the store but declared as {spec.kind}; "
                                      "give the new asset another id")
                fields = {"placement": spec.placement, "owner": spec.owner, "severity": spec.severity,
                          "spec": spec_doc, "status": "active"}
                if all(getattr(row, k) == v for k, v in fields.items()):
                    report.unchanged.append(spec.id)
                    continue
                identity_changed = _identity(row.spec) != _identity(spec_doc) or row.status == "retired"
                for k, v in fields.items():
                    setattr(row, k, v)
                row.updated_at = now
                if row.spec.get("rotation") != spec_doc.get("rotation"):
                    row.next_rotation_at = next_rotation(spec.rotation, row.rotated_at)
                if identity_changed:  # new route/role, or back from retirement: new material
                    planted += self._rotate_row(s, row, canary_base)
                report.updated.append(spec.id)
            for row in existing.values():
                if row.id not in declared and row.status != "retired":
                    row.status, row.updated_at = "retired", now
                    s.execute(update(DeceptionMaterial).where(DeceptionMaterial.asset_id == row.id,
                                                              DeceptionMaterial.expires_at.is_(None))
                              .values(expires_at=now))
                    report.retired.append(row.id)
        self._remember(planted)
        return report

    def _new_version(self, s: Any, row: DeceptionAsset, version: int, canary_base: str) -> list[str]:
        public, secret = new_material(row.kind, {**row.spec.get("extra", {})}, canary_base)
        stored = seal(self._seal_key, secret, f"{row.id}:{version}") if self._seal_key else secret
        s.add(DeceptionMaterial(asset_id=row.id, version=version, public=public, secret=stored,
                                created_at=self.clock.now()))
        return planted_values(secret)

    def _rotate_row(self, s: Any, row: DeceptionAsset, canary_base: str) -> list[str]:
        now = self.clock.now()
        rotation = Rotation.model_validate(row.spec["rotation"]) if row.spec.get("rotation") else None
        grace = parse_duration(rotation.grace) if rotation else timedelta(days=7)
        latest = s.scalars(select(DeceptionMaterial).where(DeceptionMaterial.asset_id == row.id)
                           .order_by(DeceptionMaterial.version.desc()).limit(1)).first()
        s.execute(update(DeceptionMaterial).where(DeceptionMaterial.asset_id == row.id,
                                                  DeceptionMaterial.expires_at.is_(None))
                  .values(expires_at=now + grace))
        planted = self._new_version(s, row, (latest.version if latest else 0) + 1, canary_base)
        row.rotated_at = now
        row.next_rotation_at = next_rotation(rotation, now)
        return planted

    def _remember(self, values: list[str]) -> None:
        """Record planted values in the workspace's honeytoken fingerprint filter (for DLP)."""
        if not values or self.state_dir is None:
            return
        from intelsec.fingerprints import open_filter, save_filter

        flt = open_filter(self.state_dir, "honeytoken")
        flt.update(values)
        save_filter(self.state_dir, flt)

    # -- rotation -----------------------------------------------------------------------------
    def due(self) -> list[str]:
        now = self.clock.now()
        with self.db.session() as s:
            return list(s.scalars(select(DeceptionAsset.id).where(
                DeceptionAsset.status == "active", DeceptionAsset.next_rotation_at.is_not(None),
                DeceptionAsset.next_rotation_at <= now).order_by(DeceptionAsset.id)))

    def rotate(self, asset_id: str, canary_base: str) -> Material:
        """New material now; the previous version stays watched until its grace period ends."""
        with self.db.session() as s:
            row = self._row(s, asset_id)
            if row.status != "active":
                raise ConfigError(f"asset {asset_id!r} is {row.status}; only active assets rotate")
            planted = self._rotate_row(s, row, canary_base)
        self._remember(planted)
        return self.current(asset_id)

    # -- reads --------------------------------------------------------------------------------
    def _row(self, s: Any, asset_id: str) -> DeceptionAsset:
        row = s.get(DeceptionAsset, asset_id)
        if row is None:
            raise NotFoundError(f"no deception asset {asset_id!r} (run `intelsec deception deploy`?)")
        return row  # type: ignore[no-any-return]

    def get(self, asset_id: str) -> AssetView:
        with self.db.session() as s:
            return AssetView.model_validate(self._row(s, asset_id))

    def assets(self, include_retired: bool = False) -> list[AssetView]:
        q = select(DeceptionAsset).order_by(DeceptionAsset.kind, DeceptionAsset.id)
        if not include_retired:
            q = q.where(DeceptionAsset.status != "retired")
        with self.db.session() as s:
            return [AssetView.model_validate(r) for r in s.scalars(q)]

    def watched(self, asset_id: str | None = None, kind: str | None = None,
                public: str | None = None) -> list[Material]:
        """Material of active assets that is current or still in its grace period, newest first."""
        now = self.clock.now()
        q = (select(DeceptionMaterial, DeceptionAsset.kind).join(DeceptionAsset)
             .where(DeceptionAsset.status == "active")
             .where((DeceptionMaterial.expires_at.is_(None)) | (DeceptionMaterial.expires_at > now))
             .order_by(DeceptionMaterial.asset_id, DeceptionMaterial.version.desc()))
        if asset_id:
            q = q.where(DeceptionMaterial.asset_id == asset_id)
        if kind:
            q = q.where(DeceptionAsset.kind == kind)
        if public:
            q = q.where(DeceptionMaterial.public == public)
        with self.db.session() as s:
            rows = s.execute(q).all()
        return [Material(m.asset_id, k, m.version, m.public, m.expires_at, self._unseal(m)) for m, k in rows]

    def _unseal(self, m: DeceptionMaterial) -> dict[str, str]:
        if self._seal_key is None:
            if "sealed" in m.secret:
                raise ConfigError("deception material is sealed: open the registry with the workspace state dir")
            return dict(m.secret)
        return unseal(self._seal_key, m.secret, f"{m.asset_id}:{m.version}")

    def current(self, asset_id: str) -> Material:
        for m in self.watched(asset_id):
            if m.expires_at is None:
                return m
        raise NotFoundError(f"deception asset {asset_id!r} has no current material (retired?)")

    # -- touches ------------------------------------------------------------------------------
    def count_touch(self, asset_id: str) -> None:
        """Every touch counts, even one that is rate-limited and not recorded in detail."""
        with self.db.session() as s:
            s.execute(update(DeceptionAsset).where(DeceptionAsset.id == asset_id)
                      .values(touch_count=DeceptionAsset.touch_count + 1, last_touched_at=self.clock.now()))

    def record_touch(self, asset_id: str, channel: str, test: bool, alert_id: str | None,
                     **details: str | None) -> None:
        now = self.clock.now()
        with self.db.session() as s:
            s.add(DeceptionTouch(asset_id=asset_id, time=now, channel=channel, test=test, alert_id=alert_id,
                                 **{k: (v[:_LIMITS[k]] if v else v) for k, v in details.items()}))
            values: dict[str, Any] = {"touch_count": DeceptionAsset.touch_count + 1}
            if not test:
                values["last_touched_at"] = now
            s.execute(update(DeceptionAsset).where(DeceptionAsset.id == asset_id).values(**values))

    def mark_test(self, asset_id: str, ok: bool) -> None:
        with self.db.session() as s:
            row = self._row(s, asset_id)
            row.last_test_at, row.last_test_ok = self.clock.now(), ok


_LIMITS = {"source_ip": 64, "user_agent": 512, "path": 1024, "identity": 512}


def _identity(spec: dict[str, Any]) -> Any:
    extra = spec.get("extra", {})
    return (extra.get("route"), extra.get("method"), extra.get("role"), extra.get("prefix"))
