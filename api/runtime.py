"""The parts one API process holds, built once by `create_app` and reached through `deps`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from api.auth import KeyRing
from api.metrics import Metrics
from api.publisher import Publisher
from api.results import RecentResults
from processors.config import Settings
from processors.storage import Store


class LakeReader(Protocol):
    """What the API reads from the lake (`processors.lake.query.Lake`); blocking calls."""

    def media(self, media_id: UUID) -> dict[str, Any] | None: ...

    def list_media(
        self,
        *,
        brand_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        after: str | UUID | None = None,
    ) -> list[dict[str, Any]]: ...

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...


class KeyedLocks:
    """One asyncio lock per key, so two requests for one brand or idempotency key serialise."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: defaultdict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        self._users[key] += 1
        try:
            async with self._locks[key]:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


@dataclass
class Runtime:
    settings: Settings
    store: Store
    publisher: Publisher
    lake: LakeReader
    recent: RecentResults
    keys: KeyRing
    metrics: Metrics
    upload_dir: Path
    locks: KeyedLocks = field(default_factory=KeyedLocks)
