"""Find accepted media the pipeline lost: in the ledger, with neither a result nor a dead letter.

The bucket's ledger (`processors.ledger`) is the ground truth of what the API accepted (design
§4). A ledger media is *stale* when its UUIDv7 time is more than `older_than_s` ago and the lake
has neither a result nor a dead-letter row for it (`media_status` still says 'processing'). A
broker that lost its data leaves such media behind, and so does a publish that failed after the
bytes were stored. A stale media whose event record is in the ledger is planned for re-emission
of that record, byte for byte; one without (or with a record that does not validate) is reported
as unrecoverable: its brand, platforms and labels are unknown, and guessing them would publish a
verdict nobody asked for.

Re-emitting is idempotent: the lake views keep one row per media (`uploads` the first event,
the same bytes here; `media_results` the latest) and the analysis cache makes a second analysis
of the same bytes free.

Cost: each run lists the ledger folders of the days in the look-back window only (one listing
per UTC day, `lookback_days` of them), lists the lake once (`Lake.refresh`) and reads the event
records of stale media only. A media lost for longer than the look-back is not looked at again;
widen it for a one-off sweep. The listing grows with the media per day, which is fine for now; a
record of the days known complete would make it cheaper. `older_than_s` must exceed the time a
media takes through the pipeline plus the lake sink's flush interval, or live media are
re-emitted (harmless, but work done twice).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from pydantic import ValidationError

from processors import keys, ledger
from processors.errors import ObjectNotFound
from processors.lake.query import Lake
from processors.storage import Store
from schemas.events import INPUT_EVENT, MediaGenerated
from schemas.ids import uuid7_time
from schemas.topics import MEDIA_GENERATED, MEDIA_UPLOADED

# ledger media the lake knows to be finished: a result (done or failed) or a dead letter
_FINISHED_SQL = """
SELECT media_id FROM media_status
WHERE dt BETWEEN $first AND $last AND status <> 'processing'
"""


@dataclass(frozen=True)
class Reemit:
    """A stale media to publish again: its stored event, to the topic its schema names."""

    media_id: UUID
    accepted_at: datetime
    topic: str
    value: bytes


@dataclass(frozen=True)
class Unrecoverable:
    """A stale media that cannot be re-emitted, and why."""

    media_id: UUID
    accepted_at: datetime
    reason: str


@dataclass(frozen=True)
class Plan:
    """What one reconciliation found in the window [`since`, `until`] of acceptance times."""

    since: datetime
    until: datetime
    checked: int
    reemit: tuple[Reemit, ...]
    unrecoverable: tuple[Unrecoverable, ...]

    @property
    def stale(self) -> int:
        """Ledger media past the grace period with neither a result nor a dead letter."""
        return len(self.reemit) + len(self.unrecoverable)


def window(now: datetime, older_than_s: float, lookback_days: int) -> tuple[datetime, datetime]:
    """The acceptance times a run judges: older than the grace period, within the look-back."""
    return now - timedelta(days=lookback_days), now - timedelta(seconds=older_than_s)


def days(since: datetime, until: datetime) -> list[date]:
    """The UTC days (ledger and lake folders) that hold media accepted in [since, until]."""
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def plan(
    store: Store,
    lake: Lake,
    *,
    older_than_s: float,
    lookback_days: int = 7,
    now: datetime | None = None,
    not_after: datetime | None = None,
) -> Plan:
    """Compare the ledger with the lake and plan what to re-emit; blocking (run in a thread).

    `not_after`: when the oldest media still pending in the pipeline was accepted; it and the
    media after it are not judged (queued is not lost, only waiting).
    """
    since, until = window(now or datetime.now(tz=UTC), older_than_s, lookback_days)
    if not_after is not None:
        until = min(until, not_after - timedelta(milliseconds=1))  # UUIDv7 time is in ms
    folders = days(since, until)
    judged = [
        (entry, uuid7_time(entry.media_id))
        for day in folders
        for entry in ledger.entries(store, day)
    ]
    judged = [(e, at) for e, at in judged if since <= at <= until]
    finished = _finished(lake, folders) if judged else set()
    reemit: list[Reemit] = []
    lost: list[Unrecoverable] = []
    for entry, at in judged:
        if str(entry.media_id) in finished:
            continue
        found = _recover(store, entry, at)
        if isinstance(found, Reemit):
            reemit.append(found)
        else:
            lost.append(found)
    return Plan(since, until, len(judged), tuple(reemit), tuple(lost))


def _finished(lake: Lake, folders: list[date]) -> set[str]:
    lake.refresh()  # a run must see the files the sink wrote since the last one
    rows = lake.query(_FINISHED_SQL, {"first": folders[0], "last": folders[-1]})
    return {str(r["media_id"]) for r in rows}


def _recover(store: Store, entry: ledger.Entry, at: datetime) -> Reemit | Unrecoverable:
    """The stored event of a stale media, checked, or the reason it cannot be re-emitted."""
    if not entry.has_event:
        why = "no event record (accepted before records were kept, or its intake failed)"
        return Unrecoverable(entry.media_id, at, why)
    if not entry.has_media:
        return Unrecoverable(entry.media_id, at, "event record without the media bytes")
    try:
        value = store.get_bytes(keys.event_key(entry.media_id))
        event = INPUT_EVENT.validate_json(value)
    except ObjectNotFound:
        return Unrecoverable(entry.media_id, at, "event record vanished while reading it")
    except ValidationError as e:
        why = f"event record does not validate: {e.errors()[0]['msg']}"
        return Unrecoverable(entry.media_id, at, why)
    if event.media_id != entry.media_id:
        return Unrecoverable(entry.media_id, at, f"event record names media {event.media_id}")
    topic = MEDIA_GENERATED if isinstance(event, MediaGenerated) else MEDIA_UPLOADED
    return Reemit(entry.media_id, at, topic, value)


class Cooldown:
    """Media re-emitted lately: not again until `quiet_s` has passed, so that a run during a
    backlog does not pile more copies onto media still waiting in it."""

    def __init__(self, quiet_s: float) -> None:
        self.quiet_s = quiet_s
        self._sent: dict[UUID, float] = {}

    def due(self, media_id: UUID) -> bool:
        sent = self._sent.get(media_id)
        return sent is None or time.monotonic() - sent >= self.quiet_s

    def mark(self, media_id: UUID) -> None:
        self._sent[media_id] = time.monotonic()

    def prune(self) -> None:
        """Forget media whose quiet period is over (call once per run)."""
        now = time.monotonic()
        self._sent = {k: t for k, t in self._sent.items() if now - t < self.quiet_s}
