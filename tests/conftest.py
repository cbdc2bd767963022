"""Shared fixtures: workspaces, the corpus, a real PostgreSQL server, store URLs on both backends."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import PostgresServer, find_bindir

os.environ.setdefault("RUST_BACKTRACE", "0")
# Console scripts installed with this interpreter (syft, moto_server, intelsec) come first on PATH,
# whether or not a version manager has made shims for them yet.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = Path(os.environ.get("INTELSEC_CORPUS", REPO.parent / "shared" / "corpus"))
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} is absent (set INTELSEC_CORPUS)")
    return path


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A fresh `intelsec init` workspace."""
    from intelsec.workspace.scaffold import init_workspace

    root = tmp_path / "controls"
    init_workspace(root)
    return root


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found: CI must install Debian's postgresql")
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """URL of a fresh, empty database on the test server."""
    return pg_server.url(pg_server.create_database())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated-on-demand database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.url(server.create_database())


@pytest.fixture
def migrated_db(db_url: str) -> Iterator[object]:
    from intelsec.store.db import Database, upgrade

    upgrade(db_url)
    db = Database(db_url)
    yield db
    db.dispose()
