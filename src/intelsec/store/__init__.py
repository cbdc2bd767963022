"""State store: SQLAlchemy 2 models and Alembic migrations (SQLite by default, PostgreSQL for teams)."""

from intelsec.store.db import Database, upgrade
from intelsec.store.models import Base

__all__ = ["Base", "Database", "upgrade"]
