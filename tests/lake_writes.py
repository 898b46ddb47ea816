"""Write events to a lake as the stream sink does, for tests that need a lake without a broker."""

from __future__ import annotations

from processors.lake.writer import LakeWriter
from processors.storage import LocalStore
from schemas import topics
from schemas.events import (
    BrandCheck,
    DeadLetter,
    MediaAnalysis,
    MediaGenerated,
    MediaResult,
    MediaUploaded,
)
from schemas.lake import TABLE_OF_TOPIC, LakeEvent, to_row
from schemas.reviews import MediaDecision, Review

TOPIC_OF = {
    MediaUploaded: topics.MEDIA_UPLOADED,
    MediaGenerated: topics.MEDIA_GENERATED,
    BrandCheck: topics.BRAND_CHECKS,
    MediaAnalysis: topics.MEDIA_ANALYSES,
    MediaResult: topics.MEDIA_RESULTS,
    DeadLetter: topics.DEADLETTER,
    Review: topics.REVIEWS,
    MediaDecision: topics.MEDIA_DECISIONS,
}


class Sink:
    """Writes events like the stream sink does: per topic, consecutive offsets, one batch."""

    def __init__(self, store: LocalStore) -> None:
        self.writer = LakeWriter(store)
        self.offsets: dict[str, int] = {}

    def put(self, *events: LakeEvent) -> None:
        by_topic: dict[str, list[LakeEvent]] = {}
        for e in events:
            by_topic.setdefault(TOPIC_OF[type(e)], []).append(e)
        for topic, group in by_topic.items():
            start = self.offsets.get(topic, 0)
            rows = [to_row(e, topic, 0, start + i) for i, e in enumerate(group)]
            self.offsets[topic] = start + len(rows)
            self.writer.write(TABLE_OF_TOPIC[topic], topic, 0, rows)
