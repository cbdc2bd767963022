"""Store tables: the asset registry, versioned secret material (rotation) and touches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intelsec.store.models import Base, new_id
from intelsec.store.types import JsonType, UTCDateTime


class DeceptionAsset(Base):
    """One deceptive asset: what it is, where it is placed, who owns it, and how it is doing."""

    __tablename__ = "deception_assets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    placement: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(128), default="")
    severity: Mapped[str] = mapped_column(String(16), default="high")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_rotation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    touch_count: Mapped[int] = mapped_column(Integer, default=0)
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)

    def __repr__(self) -> str:
        return f"DeceptionAsset(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


class DeceptionMaterial(Base):
    """One version of an asset's material. `public` is what watchers match on (key id, role,
    URL token); `secret` holds the HMAC key and decoy credentials. Current material has no
    `expires_at`; rotated-out material is still watched until `expires_at` (the grace period)."""

    __tablename__ = "deception_materials"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("deception_assets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    public: Mapped[str] = mapped_column(String(255), index=True)
    secret: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # never show the secret
        return f"DeceptionMaterial(asset_id={self.asset_id!r}, version={self.version})"


class DeceptionTouch(Base):
    """A recorded touch (rate-limited touches only bump the asset's `touch_count`)."""

    __tablename__ = "deception_touches"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asset_id: Mapped[str] = mapped_column(ForeignKey("deception_assets.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    channel: Mapped[str] = mapped_column(String(32))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    path: Mapped[str | None] = mapped_column(String(1024))
    identity: Mapped[str | None] = mapped_column(String(512))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_id: Mapped[str | None] = mapped_column(String(32))
