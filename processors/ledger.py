"""The bucket's ledger of accepted media: the bytes and, next to them, the accepted event.

For each accepted media the API stores two objects in the day folder its UUIDv7 names:

- `media/<yyyy>/<mm>/<dd>/<media_id>`: the media bytes (`processors.keys.media_key`);
- `media/<yyyy>/<mm>/<dd>/<media_id>.event.json`: the exact bytes of the input event it
  published (brand, platforms, labels, generation…), so that the event can be published again
  after a broker lost its data (`processors.reconcile`).

Nothing else lives under `media/`. Readers that walk a day folder go through `entries`, which
tells the two kinds apart and ignores anything it does not recognise (temporary files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from processors.keys import EVENT_SUFFIX, event_key, ledger_day_prefix, media_key
from processors.storage import Store


@dataclass
class Entry:
    """What the ledger holds for one media: its bytes, its event record, or both."""

    media_id: UUID
    has_media: bool = False
    has_event: bool = False


def parse(key: str) -> tuple[UUID, bool] | None:
    """(media id, is the event record) of a ledger key; None for anything else."""
    name = key.rsplit("/", 1)[-1]
    is_event = name.endswith(EVENT_SUFFIX)
    try:
        media_id = UUID(name.removesuffix(EVENT_SUFFIX))
    except ValueError:
        return None
    if media_id.version != 7 or key != (event_key(media_id) if is_event else media_key(media_id)):
        return None  # not in the folder its id names: not written by the API
    return media_id, is_event


def entries(store: Store, day: date) -> list[Entry]:
    """Every media of one ledger day, in media id (= time) order; blocking (one listing)."""
    found: dict[UUID, Entry] = {}
    for key in store.list(ledger_day_prefix(day)):
        parsed = parse(key)
        if parsed is None:
            continue
        media_id, is_event = parsed
        entry = found.setdefault(media_id, Entry(media_id))
        if is_event:
            entry.has_event = True
        else:
            entry.has_media = True
    return [found[k] for k in sorted(found)]


def stored_brand(store: Store, key: str) -> str | None:
    """The brand of the ledger media at `key`, read from the event stored beside it (None: the
    event names none or cannot be read); ObjectNotFound if there is no event (yet)."""
    try:
        event = json.loads(store.get_bytes(key + EVENT_SUFFIX))
    except ValueError:
        return None
    brand = event.get("brand_id") if isinstance(event, dict) else None
    return brand if isinstance(brand, str) else None
