"""The parts one API process holds, built once by `create_app` and reached through `deps`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from api.auth import KeyRing
from api.heavy import HeavyWork, SingleFlight
from api.metrics import Metrics
from api.publisher import Publisher
from api.quotas import Quotas
from api.results import RecentDecisions, RecentResults
from api.review.session import Sessions
from api.settings import Settings
from processors.storage import Store

if TYPE_CHECKING:
    from processors.lake.query import Lake


# the API reads the lake through `Lake`'s own (blocking) methods; imported for type checking
# only, so that DuckDB loads when the default lake is built (`app`), not when the API is imported
LakeReader: TypeAlias = "Lake"


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
    decisions: RecentDecisions
    keys: KeyRing
    quotas: Quotas
    metrics: Metrics
    upload_dir: Path
    heavy: HeavyWork
    sessions: Sessions
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    evidence: SingleFlight[bytes] = field(default_factory=SingleFlight)
