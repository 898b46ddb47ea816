"""Topic administration with kafka-python: synchronous, used at start-up and by tools."""

from __future__ import annotations

from collections.abc import Iterable

from schemas import topics

COMPACTED = {topics.BRANDS}


def ensure_topics(
    bootstrap: str,
    names: Iterable[str] = topics.ALL_TOPICS,
    partitions: int = 6,
    replication: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="reelscope-admin")
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
