"""Identity tables: the audit trail of short-lived database credentials minted by the broker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from intelsec.store.models import Base, new_id
from intelsec.store.types import UTCDateTime


class CredentialIssue(Base):
    """One credential handed to one attested workload (never the password itself)."""

    __tablename__ = "identity_credential_issues"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    spiffe_id: Mapped[str] = mapped_column(String(2048))
    method: Mapped[str] = mapped_column(String(16))  # x509 | jwt
    backend: Mapped[str] = mapped_column(String(32))  # postgresql
    role_name: Mapped[str] = mapped_column(String(63), index=True)
    group_role: Mapped[str] = mapped_column(String(63))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
