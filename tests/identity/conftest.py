"""Identity fixtures: local CAs for two trust domains with a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from intelsec.clock import FrozenClock
from intelsec.identity.ca import LocalCA

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def ca(tmp_path: Path, clock: FrozenClock) -> LocalCA:
    return LocalCA.init(tmp_path / "ca", "example.com", clock=clock)


@pytest.fixture
def ca_inter(tmp_path: Path, clock: FrozenClock) -> LocalCA:
    return LocalCA.init(tmp_path / "ca-inter", "example.com", intermediate=True, clock=clock)


@pytest.fixture
def other_ca(tmp_path: Path, clock: FrozenClock) -> LocalCA:
    return LocalCA.init(tmp_path / "other", "other.org", clock=clock)
