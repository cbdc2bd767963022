"""Open-vulnerability state per project, so each triage run knows what is new and what got fixed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intelsec.store.models import Base, new_id
from intelsec.store.types import UTCDateTime


class SbomFinding(Base):
    """One vulnerability of one package version in one project; `fixed_at` set when it disappears."""

    __tablename__ = "sbom_findings"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    vuln_id: Mapped[str] = mapped_column(String(128))
    package: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(128))
    ecosystem: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("project", "fingerprint", name="uq_sbom_findings_project_fp"),
        Index("ix_sbom_findings_open", "project", "fixed_at"),
    )
