"""Topic administration with kafka-python: synchronous, used at start-up and by tools."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from schemas import topics

COMPACTED = {topics.BRANDS, topics.MEDIA_DECISIONS}  # latest per key is the state
Security = Mapping[str, Any] | None  # `KafkaSecurity.client_options()`; None: plaintext


def ensure_topics(
    bootstrap: str,
    names: Iterable[str] = topics.ALL_TOPICS,
    partitions: int = 6,
    replication: int = 1,
    security: Security = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="reelscope-admin", **(security or {})
    )
    try:
        existing = set(admin.list_topics())
        wanted = [n for n in names if n not in existing]
        new = [
            NewTopic(
                n,
                partitions,
                replication,
                topic_configs={"cleanup.policy": "compact"} if n in COMPACTED else {},
            )
            for n in wanted
        ]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        return wanted
    finally:
        admin.close()


def rewind_group(
    bootstrap: str,
    group: str,
    names: Iterable[str],
    timeout_s: float = 30.0,
    security: Security = None,
) -> dict[str, int]:
    """Set `group`'s committed offsets to the earliest ones of every partition of `names`.

    Like `kafka-consumer-groups --reset-offsets --to-earliest`, but done as a member of the
    group (some brokers, Tansu among them, refuse commits from outside it): join, take every
    partition, commit the earliest offsets, leave. The group's workers must be stopped, or they
    would share the partitions. Returns the number of records each topic will replay.
    """
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=6000,
        **(security or {}),
    )
    try:
        consumer.subscribe(list(names))
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():
            if time.monotonic() > deadline:
                msg = f"could not join consumer group {group} within {timeout_s} s"
                raise TimeoutError(msg)
            consumer.poll(timeout_ms=500)
        parts = sorted(consumer.assignment())
        earliest = consumer.beginning_offsets(parts)
        latest = consumer.end_offsets(parts)
        consumer.commit({tp: OffsetAndMetadata(earliest[tp], "", -1) for tp in parts})
        replay: dict[str, int] = {}
        for tp in parts:
            replay[tp.topic] = replay.get(tp.topic, 0) + latest[tp] - earliest[tp]
        return replay
    finally:
        consumer.close(autocommit=False)


def committed_offsets(
    bootstrap: str, group: str, security: Security = None
) -> dict[tuple[str, int], int]:
    """A group's committed offset per (topic, partition).

    kafka-python's admin client: aiokafka's cannot decode Tansu's OffsetFetch answer.
    """
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="reelscope-admin", **(security or {})
    )
    try:
        got = admin.list_group_offsets({group: None}).get(group, {})
        return {(tp.topic, tp.partition): meta.offset for tp, meta in got.items()}
    finally:
        admin.close()


def end_offsets(
    bootstrap: str, names: Iterable[str], security: Security = None
) -> dict[tuple[str, int], int]:
    """Where each non-empty partition of these topics ends now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **(security or {})
    )
    try:
        parts = [
            TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()
        ]
        ends = consumer.end_offsets(parts)
        return {(tp.topic, tp.partition): n for tp, n in ends.items() if n > 0}
    finally:
        consumer.close()


def wait_caught_up(bootstrap: str, group: str, names: Iterable[str], timeout_s: float) -> bool:
    """Wait until `group` has committed everything these topics hold now; False on timeout."""
    return wait_committed(bootstrap, group, end_offsets(bootstrap, names), timeout_s)


def wait_committed(
    bootstrap: str, group: str, ends: dict[tuple[str, int], int], timeout_s: float
) -> bool:
    """Wait until `group` has committed at least `ends` on every partition; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = committed_offsets(bootstrap, group)
        if all(got.get(tp, -1) >= end for tp, end in ends.items()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
