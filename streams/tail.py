"""`reelscope tail`: a synchronous consumer for people (kafka-python, no consumer group)."""

from __future__ import annotations

import json
import sys

from processors.config import Settings
from schemas import topics

TOPIC_OF = {
    "results": topics.MEDIA_RESULTS,
    "checks": topics.BRAND_CHECKS,
    "analyses": topics.MEDIA_ANALYSES,
    "deadletter": topics.DEADLETTER,
    "uploads": topics.MEDIA_UPLOADED,
    "reviews": topics.REVIEWS,
    "decisions": topics.MEDIA_DECISIONS,
}


def summary(value: bytes) -> str:
    """One readable line per event; the full JSON for anything unexpected."""
    try:
        doc = json.loads(value)
    except ValueError:
        return value[:200].decode(errors="replace")
    if doc.get("schema", "").startswith("reelscope.media.result/"):
        codes = ",".join(v["code"] for v in doc["brand_check"].get("violations", [])) or "-"
        return (
            f"{doc['media_id']}  {doc['status']:<6} verdict={doc.get('verdict') or '-':<4} "
            f"score={doc.get('score') if doc.get('score') is not None else '-'} "
            f"violations={codes} error={doc.get('error') or '-'}"
        )
    return json.dumps(doc)


def tail(settings: Settings, what: str, *, from_beginning: bool = False) -> None:
    from kafka import KafkaConsumer

    bootstrap = settings.kafka.bootstrap
    if bootstrap == "embedded":
        sys.exit("set REELSCOPE_KAFKA__BOOTSTRAP=host:port (printed by `reelscope up`)")
    consumer = KafkaConsumer(
        TOPIC_OF[what],
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **settings.kafka.security.client_options(),
    )
    try:
        for message in consumer:
            print(summary(message.value), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
