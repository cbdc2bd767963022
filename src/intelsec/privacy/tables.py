"""Privacy tables: the detokenization audit trail (every request, granted or denied)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intelsec.store.models import Base, new_id
from intelsec.store.types import UTCDateTime


class DetokenizeAudit(Base):
    """Who asked to reverse which field, how many tokens, why, and what was decided. Never the values."""

    __tablename__ = "privacy_detokenize_audit"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    caller: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    field: Mapped[str | None] = mapped_column(String(255))
    count: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    ticket: Mapped[str | None] = mapped_column(String(128))
    granted: Mapped[bool] = mapped_column(Boolean, index=True)
    decision: Mapped[str] = mapped_column(String(255))
    key_id: Mapped[str | None] = mapped_column(String(64))
    key_version: Mapped[int | None] = mapped_column(Integer)
