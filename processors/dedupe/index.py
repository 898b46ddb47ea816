"""The near-duplicate index: one small object per upload under `dedupe/<brand_id>/` in the
bucket, so every worker replica compares with the same history whatever partitions it owns.

Cost and bound, per upload with a brand: one listing of the brand's folder (S3: a LIST per
1000 keys), the newest `max_entries` keys compared (UUIDv7 media ids sort by time), a GET only
for entries this process has not read yet (entries never change, so they are cached: at most
`CACHE_MAX` in memory, ~1 KB each), then one conditional write of the upload's own entry. A
worker's first upload of a brand reads that brand's entries, `FETCHERS` at a time.
Two near-duplicates processed at the same moment on two replicas may miss each other: the
index is as fresh as its last write, not a lock.
"""

from __future__ import annotations

import json
from collections import OrderedDict
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


class DedupeIndex:
    def __init__(self, store: Store, settings: DedupeSettings) -> None:
        self.store, self.settings = store, settings
        self._cache: OrderedDict[str, Entry | None] = OrderedDict()

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
        keys = sorted(k for k in self.store.list(dedupe_prefix(brand_id)) if k != own)
        earlier = self._entries(keys[-self.settings.max_entries :])
        match = best_match(fingerprint, kind, earlier, self.settings)
        entry = {"media_id": str(media_id), "sha256": sha256, "kind": kind}
        body = {**entry, "fingerprint": fingerprint.model_dump(mode="json")}
        self.store.create_bytes(own, json.dumps(body).encode())
        return match

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
