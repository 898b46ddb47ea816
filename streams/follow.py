"""Consumers outside any group that read a whole topic back and then follow it (the published
results, the gate's decisions): they assign every partition themselves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError


def follower(bootstrap: str, security: Mapping[str, Any]) -> AIOKafkaConsumer:
    """A consumer of no group that commits nothing: where it reads is its owner's to say."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **security
    )


async def assign_topic(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition of `topic` to `consumer`, refreshing its metadata once if it has
    none yet; `KafkaError` while the topic has no partitions (not created yet)."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()  # no public refresh in aiokafka
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        msg = f"topic {topic} has no partitions (not created yet?)"
        raise KafkaError(msg)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return tps
