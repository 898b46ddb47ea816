"""Every bucket key layout, in one place: what is stored where, and who writes it.

- `media/<yyyy>/<mm>/<dd>/<media_id>`: the media bytes; the ledger (the id names its day).
  API intake.
- `media/<yyyy>/<mm>/<dd>/<media_id>.event.json`: the accepted input event, beside its bytes.
  API intake.
- `brands/<brand_id>/profile.json`, `brands/<brand_id>/logos/<sha256>.<ext>`: a brand's profile
  (latest version) and logos. API.
- `thumbs/<media_id>.jpg`: the thumbnail the analyzer made. Worker.
- `evidence/<media_id>.png`: the annotated evidence frame, drawn on first request and kept. API.
- `idempotency/<sha256>.json`: an upload's idempotency record. API.
- `apikeys/<name>.json`: a stored API key (its sha256, scopes, brands, quotas). `reelscope keys`.
- `cache/gemini/<sha256>.json`: a Gemini answer, named by all that determines it. Worker.
- `deferred/<media_id>.json`: the published result of a media whose analysis the budget
  deferred, until the analysis is resumed (`processors.resume`). Worker.
- `dedupe/<brand_id>/<yyyy-mm-dd>/<media_id>.json`: an upload's perceptual fingerprint, the
  near-duplicate index of its brand, one folder per day the id names, so that a lookup lists
  the recent days only (`processors.dedupe.index`). Worker.
- `budget/<yyyy>-<mm>/<seq>.json`: the fleet's Gemini spend in a month, one snapshot per
  change, `seq` 12 digits (`processors.budget`). Worker.
- `lake/<table>/dt=<day>/brand_id=<brand>/<topic>+<ppp>[+e<epoch>]+<first>+<last>.parquet`:
  lake rows. Lake sink, compaction.
- `lake/_incarnations/<topic>+<ppp>.json`: the epoch of a topic-partition. Lake sink.
- `generated/<brand_id>/...`: objects an AI generator wrote into the bucket itself; a generation
  event may name one (or a ledger object) instead of uploading bytes; a key bound to brands may
  name only its brands' folders. Producers.

Lake file names: partition 3 digits, epoch 4 (absent for epoch 0), offsets 20, zero-padded;
what they promise is `processors.lake.layout`. `brand_id=__HIVE_DEFAULT_PARTITION__` holds rows
without a brand; DuckDB reads that folder name as NULL, the Hive convention.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final
from uuid import UUID

from schemas.ids import uuid7_time

LEDGER_PREFIX: Final = "media/"
GENERATED_PREFIX: Final = "generated/"
# where a generation event may point at an object already in the bucket
REFERABLE_PREFIXES: Final = (LEDGER_PREFIX, GENERATED_PREFIX)
EVENT_SUFFIX: Final = ".event.json"
GEMINI_CACHE_PREFIX: Final = "cache/gemini/"
API_KEYS_PREFIX: Final = "apikeys/"
BUDGET_PREFIX: Final = "budget/"
DEFERRED_PREFIX: Final = "deferred/"
DEDUPE_PREFIX: Final = "dedupe/"
LAKE_PREFIX: Final = "lake"
LAKE_MARKERS: Final = f"{LAKE_PREFIX}/_incarnations/"
NO_BRAND: Final = "__HIVE_DEFAULT_PARTITION__"

# the grammar of a lake file's key, the inverse of `lake_folder` + `lake_file_name`
LAKE_FILE_NAME: Final = re.compile(
    r"^(?P<topic>[A-Za-z0-9._-]+)\+(?P<partition>\d+)(?:\+e(?P<epoch>\d+))?"
    r"\+(?P<first>\d+)\+(?P<last>\d+)\.parquet$"
)
LAKE_FOLDER: Final = re.compile(r"/dt=(?P<day>\d{4}-\d{2}-\d{2})/brand_id=(?P<brand>[^/]+)/[^/]+$")
_TOPIC: Final = re.compile(r"^[A-Za-z0-9._-]+$")


def media_key(media_id: UUID) -> str:
    """Key of an accepted media object: the bucket's ledger is `media/<yyyy>/<mm>/<dd>/<id>`."""
    return f"{ledger_day_prefix(uuid7_time(media_id).date())}{media_id}"


def event_key(media_id: UUID) -> str:
    """Key of the accepted input event of a media, next to its bytes."""
    return media_key(media_id) + EVENT_SUFFIX


def ledger_day_prefix(day: dt.date) -> str:
    """The ledger folder of one UTC day (media ids name their day)."""
    return f"{LEDGER_PREFIX}{day:%Y/%m/%d}/"


def profile_key(brand_id: str) -> str:
    return f"brands/{brand_id}/profile.json"


def logo_key(brand_id: str, sha256: str, ext: str) -> str:
    return f"brands/{brand_id}/logos/{sha256}.{ext}"


def api_key_key(name: str) -> str:
    return f"{API_KEYS_PREFIX}{name}.json"


def budget_prefix(month: str) -> str:
    """The folder of one month's budget snapshots (`month` is `yyyy-mm`)."""
    return f"{BUDGET_PREFIX}{month}/"


def budget_key(month: str, seq: int) -> str:
    return f"{budget_prefix(month)}{seq:012d}.json"


def budget_seq(key: str) -> int | None:
    """The sequence number a budget snapshot's key names (None for anything else)."""
    name = key.rsplit("/", 1)[-1]
    stem = name.removesuffix(".json")
    return int(stem) if stem != name and len(stem) == 12 and stem.isdigit() else None


def deferred_key(media_id: UUID) -> str:
    return f"{DEFERRED_PREFIX}{media_id}.json"


def deferred_media_id(key: str) -> UUID | None:
    """The media a deferred mark's key names (None for anything else under the prefix)."""
    name = key.removeprefix(DEFERRED_PREFIX)
    if name == key or not name.endswith(".json"):
        return None
    try:
        return UUID(name.removesuffix(".json"))
    except ValueError:
        return None


def dedupe_prefix(brand_id: str, day: dt.date | None = None) -> str:
    """The folder of one brand's fingerprints, or of those of one day (ends with `/`)."""
    folder = f"{DEDUPE_PREFIX}{brand_id}/"
    return folder if day is None else f"{folder}{day.isoformat()}/"


def dedupe_key(brand_id: str, media_id: UUID) -> str:
    return f"{dedupe_prefix(brand_id, uuid7_time(media_id).date())}{media_id}.json"


def thumbnail_key(media_id: UUID) -> str:
    return f"thumbs/{media_id}.jpg"


def evidence_key(media_id: UUID) -> str:
    return f"evidence/{media_id}.png"


def idempotency_key(digest: str) -> str:
    """Key of an idempotency record; `digest` already scopes the client's key by caller."""
    return f"idempotency/{digest}.json"


def gemini_cache_key(name: str, prefix: str = GEMINI_CACHE_PREFIX) -> str:
    return f"{prefix}{name}.json"


def lake_table_prefix(table_name: str) -> str:
    """Key prefix of one table's files (ends with `/`)."""
    return f"{LAKE_PREFIX}/{table_name}/"


def lake_folder(table_name: str, day: dt.date, brand_id: str | None) -> str:
    """Key prefix of one partition folder (ends with `/`)."""
    return f"{lake_table_prefix(table_name)}dt={day.isoformat()}/brand_id={brand_id or NO_BRAND}/"


def lake_file_prefix(topic: str, partition: int) -> str:
    """Start of the names of one topic-partition's files in a folder."""
    if not _TOPIC.match(topic) or partition < 0:
        msg = f"cannot name a lake file for {topic!r}/{partition}"
        raise ValueError(msg)
    return f"{topic}+{partition:03d}+"


def lake_file_name(topic: str, partition: int, first: int, last: int, epoch: int = 0) -> str:
    """Name of the file holding a topic-partition incarnation's rows of a folder from `first`
    to `last`."""
    if not 0 <= first <= last or epoch < 0:
        msg = f"cannot name a lake file for offsets {first}..{last} of epoch {epoch}"
        raise ValueError(msg)
    tag = f"e{epoch:04d}+" if epoch else ""
    return f"{lake_file_prefix(topic, partition)}{tag}{first:020d}+{last:020d}.parquet"


def lake_object_key(
    table_name: str,
    day: dt.date,
    brand_id: str | None,
    topic: str,
    partition: int,
    first: int,
    last: int,
    epoch: int = 0,
) -> str:
    """Full key of a lake data file."""
    return lake_folder(table_name, day, brand_id) + lake_file_name(
        topic, partition, first, last, epoch
    )


def lake_marker_key(topic: str, partition: int) -> str:
    """Where the epoch of one topic-partition is recorded."""
    return f"{LAKE_MARKERS}{lake_file_prefix(topic, partition).rstrip('+')}.json"
