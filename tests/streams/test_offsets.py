"""faust's commit offset never passes a message still being processed (streams.offsets).

Each test drives a real faust `Consumer` the way faust does at run time: a stream takes a
message (`track_message`), finishes it (`Message.ack` -> `Consumer.ack`), the fetcher records a
gap (`_add_gap`), and the commit loop asks `_filter_committable_offsets` what to commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import cast

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams import offsets

TOPIC = "offsets-test"
TP0 = TP(TOPIC, 0)


class Partition:
    """One partition of a real faust consumer, with its messages by offset."""

    def __init__(self, committed: int | None) -> None:
        app = faust.App(f"offsets-{uuid.uuid4().hex[:8]}", broker="kafka://127.0.0.1:9")
        offsets.track(app)  # as streams.app.create_app does
        self.consumer = cast(Consumer, app.consumer)
        # what the conductor records for a topic an agent subscribes to with acks on
        app.topics.acking_topics.add(TOPIC)
        # where a seek to the committed offset, or the previous commit, leaves it
        self.consumer._committed_offset[TP0] = committed
        self.messages: dict[int, ConsumerMessage] = {}

    def take(self, offsets_: Iterable[int]) -> None:
        """A stream takes these messages (faust tracks them as unacknowledged)."""
        for o in offsets_:
            m = ConsumerMessage(TOPIC, 0, o, 0.0, 0, None, b"k", b"v", None)
            self.messages[o] = m
            self.consumer.track_message(m)

    def finish(self, offsets_: Iterable[int]) -> None:
        """The agents are done with these: the final ack."""
        for o in offsets_:
            self.messages[o].ack(self.consumer)

    def abandon(self, offset: int) -> None:
        """A stream took the message and let it go unfinished (an actor cancelled, a queue
        cleared): faust's WeakSet of unacknowledged messages forgets it."""
        self.consumer._unacked_messages.discard(self.messages.pop(offset))

    def to_commit(self) -> int | None:
        """What faust's commit loop commits on the partition now; recorded as faust does."""
        offset = self.consumer._filter_committable_offsets([TP0]).get(TP0)
        if offset is not None:
            self.consumer._committed_offset[TP0] = offset  # as `_commit_offsets` records it
        return offset

    def unpatched(self) -> int | None:
        """What faust 0.15.3's own `_new_offset` answers for the same state."""
        return offsets.ORIGINAL_NEW_OFFSET(self.consumer, TP0)


@pytest.mark.parametrize("committed", [None, 0])
async def test_fresh_partition_head_in_flight_commits_nothing(committed: int | None) -> None:
    p = Partition(committed)
    p.take(range(6))
    p.finish(range(1, 6))
    assert p.to_commit() is None
    p.finish([0])
    assert p.to_commit() == 6


async def test_head_in_flight_after_earlier_commits_commits_nothing() -> None:
    p = Partition(committed=10)
    p.take(range(10, 16))
    p.finish(range(11, 16))
    assert p.to_commit() is None
    p.finish([10])
    assert p.to_commit() == 16  # the acks above the slow one were kept, not dropped


async def test_commit_stops_at_the_lowest_running_message() -> None:
    p = Partition(committed=10)
    p.take(range(10, 20))
    p.finish([10, 11, 12, 14, 15, 16])
    assert p.to_commit() == 13
    p.finish([13])
    assert p.to_commit() == 17


@pytest.mark.parametrize(("committed", "first"), [(None, 0), (0, 0), (10, 10)])
async def test_all_acked_commits_to_the_end(committed: int | None, first: int) -> None:
    p = Partition(committed)
    p.take(range(first, first + 6))
    p.finish(range(first, first + 6))
    assert p.to_commit() == first + 6


async def test_compacted_gap_is_still_skipped() -> None:
    p = Partition(committed=3)
    p.take([3, 4, 5])
    await p.consumer._add_gap(TP0, 6, 8)  # the fetcher saw 5 then 8: 6 and 7 are gone
    p.take([8, 9])
    p.finish([3, 4, 5, 8, 9])
    assert p.to_commit() == 10  # faust itself gets there in two commits (9, then 10)


async def test_gap_does_not_cover_the_message_after_it() -> None:
    # faust's gap from the fetcher includes the message that revealed it (8 here)
    p = Partition(committed=3)
    p.take([3, 4, 5])
    await p.consumer._add_gap(TP0, 6, 8)
    p.take([8, 9])
    p.finish([3, 4, 5, 9])
    assert p.to_commit() == 8  # past the gap, not past 8
    p.finish([8])
    assert p.to_commit() == 10


async def test_marker_at_the_committed_offset_is_skipped_as_faust_does() -> None:
    # after a seek faust treats the committed offset as read: a transaction marker at 10
    # (never delivered) must not stall the partition
    p = Partition(committed=10)
    p.take([11, 12])
    p.finish([11, 12])
    assert p.to_commit() == 13


@pytest.mark.parametrize(("committed", "first"), [(None, 0), (10, 10)])
async def test_a_message_abandoned_at_the_head_holds_the_commit(
    committed: int | None, first: int
) -> None:
    # a worker leaving the group: its brand-check actor is cancelled mid-message, the
    # analysis of the same message and the next message are done
    p = Partition(committed)
    p.take(range(first, first + 3))
    p.finish([first + 1, first + 2])
    p.abandon(first)
    assert p.to_commit() is None  # the next owner replays it
    assert p.unpatched() == first + 3  # faust commits past it


async def test_unpatched_faust_commits_past_the_running_message() -> None:
    fresh = Partition(committed=None)
    fresh.take(range(6))
    fresh.finish(range(1, 6))
    assert fresh.unpatched() == 6  # offset 0 is still running

    committed = Partition(committed=10)
    committed.take(range(10, 16))
    committed.finish(range(11, 16))
    assert committed.unpatched() == 16  # offset 10 is still running

    gap = Partition(committed=3)
    gap.take([3, 4, 5])
    await gap.consumer._add_gap(TP0, 6, 8)
    gap.take([8, 9])
    gap.finish([3, 4, 5, 9])
    assert gap.unpatched() == 10  # offset 8 is still running


def test_the_fix_is_installed_once_on_faust_itself() -> None:
    offsets.install()
    offsets.install()
    assert Consumer._new_offset is offsets.safe_new_offset
    assert offsets.ORIGINAL_NEW_OFFSET.__module__ == "faust.transport.consumer"
    from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer

    assert KafkaConsumer._new_offset is offsets.safe_new_offset


def test_another_faust_version_is_refused() -> None:
    offsets.check_version(offsets.FAUST_VERSION)
    with pytest.raises(offsets.FaustVersionError, match=r"0\.15\.3, but 0\.16\.0 is installed"):
        offsets.check_version("0.16.0")


def test_pin_matches_the_version_the_fix_was_written_for() -> None:
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'"faust-streaming=={offsets.FAUST_VERSION}"' in pyproject
