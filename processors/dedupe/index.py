"""The near-duplicate index: one small object per upload under `dedupe/<brand_id>/` in the
bucket, so every worker replica compares with the same history whatever partitions it owns.

Cost and bound, per upload with a brand: the entries sit in one folder per day (the day their
UUIDv7 media id names), and a lookup lists today's folder (S3: a LIST per 1000 keys), then
earlier days, newest first, until it has `max_entries` keys or went back `window_days`; a past
day's listing is kept for `RELIST_S` (entries land in a past day only from a backlog), so the
steady cost is one LIST of today. It reads only entries this process has not read yet
(entries never change, so they are cached: at most `CACHE_MAX` in memory, ~1 KB each), then
makes one conditional write of the upload's own entry. A worker's first upload of a brand
reads that brand's recent entries, `FETCHERS` at a time. Two near-duplicates processed at the
same moment on two replicas may miss each other (the index is as fresh as its last write, not
a lock), and an entry written into a past day is seen by other processes within `RELIST_S`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final
from uuid import UUID

from processors.dedupe.rule import Entry, best_match
from processors.dedupe.settings import DedupeSettings
from processors.errors import ObjectNotFound
from processors.keys import dedupe_key, dedupe_prefix
from processors.storage import Store
from schemas.fields import MediaKind
from schemas.provenance import DuplicateOf, Fingerprint

CACHE_MAX: Final = 100_000
FETCHERS: Final = 8
RELIST_S: Final = 600.0


class DedupeIndex:
    def __init__(
        self, store: Store, settings: DedupeSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self._cache: OrderedDict[str, Entry | None] = OrderedDict()
        self._listed: dict[tuple[str, dt.date], tuple[float, list[str]]] = {}

    def match_and_record(
        self,
        brand_id: str,
        media_id: UUID,
        sha256: str,
        kind: MediaKind,
        fingerprint: Fingerprint,
    ) -> DuplicateOf | None:
        """The closest earlier upload of the brand this one nearly duplicates; then add this
        one to the index (a replay finds its own entry and skips it)."""
        own = dedupe_key(brand_id, media_id)
        keys = [k for k in self._recent_keys(brand_id) if k != own]
        earlier = self._entries(keys[-self.settings.max_entries :])
        match = best_match(fingerprint, kind, earlier, self.settings)
        entry = {"media_id": str(media_id), "sha256": sha256, "kind": kind}
        body = {**entry, "fingerprint": fingerprint.model_dump(mode="json")}
        self.store.create_bytes(own, json.dumps(body).encode())
        return match

    def _recent_keys(self, brand_id: str) -> list[str]:
        """The brand's newest keys, oldest first: today's, then earlier days' until there are
        `max_entries` or the window ends."""
        now = self.clock()
        today = dt.datetime.fromtimestamp(now, dt.UTC).date()
        oldest = today - dt.timedelta(days=self.settings.window_days)
        if any(day < oldest for _, day in self._listed):  # days that left the window
            self._listed = {k: v for k, v in self._listed.items() if k[1] >= oldest}
        days: list[list[str]] = []
        for back in range(self.settings.window_days):
            day = today - dt.timedelta(days=back)
            listed = self._listed.get((brand_id, day))
            if back == 0 or listed is None or now - listed[0] > RELIST_S:
                listed = (now, sorted(self.store.list(dedupe_prefix(brand_id, day))))
                self._listed[(brand_id, day)] = listed
            days.append(listed[1])
            if sum(map(len, days)) > self.settings.max_entries:  # one more: its own may be there
                break
        return [k for keys in reversed(days) for k in keys]

    def _entries(self, keys: list[str]) -> list[Entry]:
        missing = [k for k in keys if k not in self._cache]
        if missing:
            with ThreadPoolExecutor(min(FETCHERS, len(missing))) as pool:
                for key, entry in zip(missing, pool.map(self._read, missing), strict=True):
                    self._cache[key] = entry
            while len(self._cache) > CACHE_MAX:
                self._cache.popitem(last=False)
        return [e for k in keys if (e := self._cache.get(k)) is not None]

    def _read(self, key: str) -> Entry | None:
        """One stored entry; None for one deleted meanwhile or not of this format."""
        try:
            raw = json.loads(self.store.get_bytes(key))
            return Entry(
                media_id=UUID(raw["media_id"]),
                sha256=raw["sha256"],
                kind=raw["kind"],
                fingerprint=Fingerprint.model_validate(raw["fingerprint"]),
            )
        except ObjectNotFound:
            return None
        except (ValueError, KeyError, TypeError):
            return None
