"""Which incarnation of a topic-partition the lake is writing: the epoch in lake file names.

Offsets are not an identity on their own: a broker that lost its data (the embedded broker's
memory storage, at every restart) or a topic deleted and re-created starts again at offset 0,
while the bucket keeps the files of the old offsets. A writer that trusted names alone would
take the new records for ones it already holds and drop them.

So the writer checks a replay before it skips it: a record whose offset a file already covers
must be in that file with the same `event_id`. If it is not, the topic-partition is a new
incarnation: its epoch goes up by one, recorded in the bucket at
`lake/_incarnations/<topic>+<partition>.json` before any file of the new epoch is written, and
the batch is written under the new epoch. No marker means epoch 0, so lakes written before
epochs existed keep reading as they are. (The Kafka protocol's topic ids would say the same
more cheaply, but neither aiokafka nor our embedded broker exposes them; the check by
`event_id` also works on brokers that have none.)

Guarantee: a record is skipped only when a durable file of the current epoch holds a row with
its offset and event id. Residual risk, stated: if a re-created topic keeps the lake group's
committed offsets and reaches past them before the sink looks, the sink starts at those offsets
and never sees the new records below them: reset the lake group (`reelscope lake rewind`) after
re-creating a topic; the reconciler re-emits whatever stays without a result.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow.parquet as pq
import structlog
from pydantic import BaseModel, Field, ValidationError

from processors.errors import ObjectNotFound, StorageError
from processors.keys import lake_marker_key
from processors.storage import Store

log = structlog.get_logger(__name__)


class EpochStart(BaseModel):
    epoch: int
    at: datetime
    reason: str


class Marker(BaseModel):
    """What `lake_marker_key` holds: the current epoch and when and why each one began."""

    epoch: int = Field(default=0, ge=0)
    history: list[EpochStart] = Field(default_factory=list)


class Incarnations:
    """The current epoch per topic-partition, read once from the bucket and cached.

    Only the partition's owner writes a marker; call `forget` when ownership may have moved
    (a rebalance), so the next writer reads the epoch its predecessor recorded.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._epochs: dict[tuple[str, int], int] = {}

    def epoch(self, topic: str, partition: int) -> int:
        key = (topic, partition)
        if key not in self._epochs:
            self._epochs[key] = self._read(topic, partition).epoch
        return self._epochs[key]

    def begin_next(self, topic: str, partition: int, reason: str) -> int:
        """Start a new epoch and record it durably (with why) before anything is written in it."""
        marker = self._read(topic, partition)
        epoch = max(marker.epoch, self._epochs.get((topic, partition), 0)) + 1
        start = EpochStart(epoch=epoch, at=datetime.now(tz=UTC), reason=reason)
        marker = Marker(epoch=epoch, history=[*marker.history, start])
        self.store.put_bytes(
            lake_marker_key(topic, partition), marker.model_dump_json(indent=1).encode()
        )
        self._epochs[(topic, partition)] = epoch
        log.warning("lake_new_epoch", topic=topic, partition=partition, epoch=epoch, reason=reason)
        return epoch

    def forget(self, topic: str, partition: int) -> None:
        self._epochs.pop((topic, partition), None)

    def _read(self, topic: str, partition: int) -> Marker:
        key = lake_marker_key(topic, partition)
        try:
            return Marker.model_validate_json(self.store.get_bytes(key))
        except ObjectNotFound:
            return Marker()
        except ValidationError as e:
            msg = f"incarnation marker {key} is unreadable: {e}"
            raise StorageError(msg) from e


def event_ids_by_offset(store: Store, key: str) -> dict[int, str]:
    """The (offset → event_id) of one lake file, read from two columns only."""
    data = store.get_bytes(key)
    columns = pq.read_table(io.BytesIO(data), columns=["offset", "event_id"]).to_pydict()
    return dict(zip(columns["offset"], columns["event_id"], strict=True))
