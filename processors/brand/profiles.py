"""Brand profiles read from the bucket, and a small read-through cache of them.

The bucket is the source of truth (the API writes it before it publishes to
`reelscope.brands.v1`); workers read through a short TTL cache, so an update reaches every
worker within `ttl` seconds and every verdict records the profile version it used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from processors.errors import ObjectNotFound
from processors.keys import profile_key
from processors.storage import Store
from schemas.profiles import BrandProfile


def load_profile(store: Store, brand_id: str) -> BrandProfile | None:
    try:
        return BrandProfile.model_validate_json(store.get_bytes(profile_key(brand_id)))
    except ObjectNotFound:
        return None


@dataclass
class BrandCache:
    """Profiles and their logo bytes by brand id, re-read after `ttl` seconds. Blocking I/O."""

    store: Store
    ttl: float = 5.0
    _entries: dict[str, tuple[float, BrandProfile | None, list[bytes]]] = field(
        default_factory=dict
    )

    def get(self, brand_id: str) -> tuple[BrandProfile | None, list[bytes]]:
        now = time.monotonic()
        hit = self._entries.get(brand_id)
        if hit and now - hit[0] < self.ttl:
            return hit[1], hit[2]
        profile = load_profile(self.store, brand_id)
        logos = [self.store.get_bytes(k) for k in profile.logos] if profile else []
        self._entries[brand_id] = (now, profile, logos)
        return profile, logos
