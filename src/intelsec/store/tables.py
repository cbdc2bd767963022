"""Imports every module that defines tables, so metadata (and Alembic) sees them all."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from intelsec.store.models import Base

# Capability packages that keep tables: each has `intelsec.<name>.tables` defining ORM classes on Base.
TABLE_MODULES = [
    "intelsec.privacy.tables",
    "intelsec.deception.tables",
    "intelsec.egress.tables",
    "intelsec.sbom.tables",
    "intelsec.identity.tables",
    "intelsec.validation.tables",
]


def load_all() -> None:
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def all_metadata() -> MetaData:
    load_all()
    return Base.metadata
