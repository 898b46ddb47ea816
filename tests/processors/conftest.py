"""Fixtures for the processors tests: a folder bucket and a sink that writes its lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.storage import LocalStore
from tests.lake_writes import Sink


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    """An empty folder bucket (modules that need another kind define their own)."""
    return LocalStore(tmp_path / "bucket")


@pytest.fixture
def sink(store: LocalStore) -> Sink:
    return Sink(store)
