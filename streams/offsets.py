"""Keep faust from committing past a message that is still being processed.

faust-streaming 0.15.3 picks the offset to commit in `Consumer._new_offset`: the end of the
first run of consecutive acknowledged offsets (plus the gaps it knows of: compacted records,
transaction markers). It checks where that run starts only
`if committed_offset and min(acked) - committed_offset > 1`. The committed offset is the next
offset to read, so with committed 10, message 10 still running and 11..15 acknowledged it
commits 16; with nothing committed yet (None, or 0, which faust stores as None) it never checks
at all. Any agent with `concurrency > 1`, or one that acknowledges out of order (a join holding
events back), then commits past work in progress, and a crash loses that message for good.

`install()` replaces that one method, once per process (importing this module does it, and
`streams.app` imports it). The replacement returns the same run end as faust, with faust's own
gap handling and head check (kept: right after a seek faust counts the committed offset itself
as read, so a transaction marker there must not stall the partition), but

- never beyond the lowest offset of a message a stream has taken and not yet acknowledged on
  that partition (`Consumer._unacked_messages`, which faust fills before the stream hands the
  message to the agent and empties on its final ack). Messages still queued for a stream are
  above every taken one (the queue is FIFO, and an offset is acknowledged only after every
  stream has taken it), so this is the lowest unfinished offset faust has handed out;
- it forgets only the acknowledged offsets below what it returns, so acknowledgements above a
  running message wait for the next commit instead of being dropped with the batch;
- it starts the run at the committed offset itself. faust lets the first acknowledged offset
  be one above it (after a seek it counts the committed offset as read, so that a transaction
  marker there, never delivered, cannot stall the partition). That is also the shape of a lost
  message: taken at the committed offset, then abandoned (an actor cancelled by a shutdown, a
  stream queue cleared by a rebalance), and dropped from `_unacked_messages`, a WeakSet, once
  nothing refers to it; a worker leaving the group then committed one past it, and the media
  never got its brand check (tests/e2e/test_chaos.py, 1 run in 20 under load). The start may be
  one above the committed offset only if no stream ever took a message at the committed offset
  (`TakenOffsets`, a sensor every app registers with `track`, keeps the taken offsets strongly);
  with nothing committed yet the run starts at the lowest offset taken.

The bound also covers faust's other routes past a running message: a gap recorded by the
fetcher includes the message that revealed it (`_add_gap(tp, r + 1, offset)` is inclusive), and
while partitions are revoked their committed offsets are forgotten before the final commit
(`on_partitions_revoked` pops them, then `wait_empty` commits), which turns the head check off;
the commits on a task error and at shutdown go through here too. faust's version is pinned
(pyproject.toml) and `install()` refuses any other one: re-read the original before moving the
pin. `ORIGINAL_NEW_OFFSET` keeps faust's method, for the tests that show what it got wrong.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, cast

import faust
from faust.sensors import Sensor
from faust.transport.consumer import Consumer
from faust.types import TP, Message
from faust.types.tuples import ack_lock

from processors.errors import ReelscopeError

FAUST_VERSION = "0.15.3"
NewOffset = Callable[[Consumer, TP], int | None]
Taken = defaultdict[TP, set[int]]
ORIGINAL_NEW_OFFSET: NewOffset = Consumer._new_offset


class FaustVersionError(ReelscopeError):
    """The installed faust is not the one this fix was written and checked against."""


def check_version(installed: str) -> None:
    """Refuse a faust this fix was not checked against, so an upgrade is a conscious act."""
    if installed != FAUST_VERSION:
        msg = (
            f"streams.offsets patches faust-streaming {FAUST_VERSION}, but {installed} is "
            "installed. Re-read Consumer._new_offset in faust/transport/consumer.py: if it can "
            "still commit past an unacknowledged message, port the fix, then move "
            "FAUST_VERSION and the pin in pyproject.toml together."
        )
        raise FaustVersionError(msg)


def install() -> None:
    """Replace `Consumer._new_offset` with `safe_new_offset`; a second call does nothing."""
    check_version(version("faust-streaming"))
    current = Consumer.__dict__["_new_offset"]
    if current is safe_new_offset:
        return
    if current is not ORIGINAL_NEW_OFFSET:
        msg = f"Consumer._new_offset is already replaced by {current!r}; refusing to stack"
        raise FaustVersionError(msg)
    Consumer._new_offset = safe_new_offset  # type: ignore[method-assign]
    _check_drivers()


def _check_drivers() -> None:
    """Fail if the Kafka driver's consumer overrides the method, which would bypass the fix."""
    from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer

    if KafkaConsumer._new_offset is not safe_new_offset:
        msg = "faust's aiokafka Consumer overrides _new_offset; streams.offsets must patch it"
        raise FaustVersionError(msg)


def safe_new_offset(self: Consumer, tp: TP) -> int | None:
    """The offset to commit on `tp`, never past a message still being processed; or None.

    Installed as a method of faust's `Consumer`, hence `self`.
    """
    with ack_lock:  # `Consumer.ack` mutates the same lists under it
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        _fold_gaps(self._gap[tp], acked)
        done = sorted(set(acked))
        committed = self._committed_offset[tp]
        taken = taken_offsets(self)[tp]
        start = committed if committed else min(taken, default=None)
        if start is not None and done[0] > start and not _marker_at(start, done[0], taken):
            acked[:] = done
            return None
        end = _end_of_first_run(done)
        running = lowest_unacked(self, tp)
        if running is not None:
            end = min(end, running)
        acked[:] = [o for o in done if o >= end]
        self._acked_index[tp].difference_update(o for o in done if o < end)
        taken.difference_update([o for o in taken if o < end])
        return end if end > done[0] else None


def _marker_at(start: int, first_acked: int, taken: set[int]) -> bool:
    """faust's allowance, kept where it is safe: a record at the committed offset that no
    stream ever took (a transaction marker) does not stall the partition."""
    return first_acked == start + 1 and start not in taken


def taken_offsets(consumer: Consumer) -> Taken:
    """The offsets streams have taken on each partition and not yet seen committed."""
    found: Taken | None = consumer.__dict__.get("_reelscope_taken")
    if found is None:
        found = consumer.__dict__["_reelscope_taken"] = defaultdict(set)
    return found


class TakenOffsets(Sensor):
    """Records every offset a stream takes (faust calls `on_message_in` once per message, when
    the first stream takes it), held until a commit passes it, for `safe_new_offset`."""

    logger = logging.getLogger("faust.sensors.taken")  # faust's level: no "Starting..." line

    def __init__(self, app: faust.App) -> None:
        super().__init__()
        self.app = app

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        taken_offsets(cast(Consumer, self.app.consumer))[tp].add(offset)


def track(app: faust.App) -> None:
    """Register `TakenOffsets` on `app`: without it a message abandoned at the committed
    offset is committed past, as faust does."""
    app.sensors.add(TakenOffsets(app))


def lowest_unacked(consumer: Consumer, tp: TP) -> int | None:
    """The lowest offset on `tp` that a stream has taken and not yet acknowledged."""
    running = [m.offset for m in list(consumer._unacked_messages) if m.tp == tp and not m.acked]
    return min(running, default=None)


def _fold_gaps(gaps: Any, acked: list[int]) -> None:
    """Count known gaps below the highest acked offset as acked, as faust does.

    `gaps` is faust's `intervaltree.IntervalTree` (the package ships no types).
    """
    if not gaps:
        return
    highest = max(acked)
    found: list[Any] = sorted(gaps.overlap(0, highest), key=lambda iv: iv.begin)
    if not found:
        return
    offsets = [o for iv in found for o in range(iv.begin, iv.end)]
    acked.extend(offsets)
    gaps.chop(0, max(offsets[-1], highest + 1))


def _end_of_first_run(done: list[int]) -> int:
    """One past the last offset of the run of consecutive offsets that `done` starts with."""
    end = done[0] + 1
    for offset in done[1:]:
        if offset != end:
            break
        end += 1
    return end


install()
