"""Lake tables: one explicit Arrow schema per table and the function that maps an event to a row.

Columns are declared, never inferred from dicts, so files never drift. Every row carries its
provenance (`topic`, `partition`, `offset`) and the full event as JSON in `payload`, so a
reader can rebuild the event without a second store. `dt` is the day of the media id (UUIDv7),
so a lookup by id touches one partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import pyarrow as pa

from schemas import topics
from schemas.events import (
    BrandCheck,
    DeadLetter,
    MediaAnalysis,
    MediaGenerated,
    MediaResult,
    MediaUploaded,
)
from schemas.ids import uuid7_time
from schemas.reviews import MediaDecision, Review

_TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())

PROVENANCE: Final[list[pa.Field[Any]]] = [
    pa.field("topic", pa.string(), nullable=False),
    pa.field("partition", pa.int32(), nullable=False),
    pa.field("offset", pa.int64(), nullable=False),
]
_ENVELOPE: Final[list[pa.Field[Any]]] = [
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("media_id", pa.string()),
    pa.field("occurred_at", _TS, nullable=False),
    pa.field("dt", pa.date32(), nullable=False),
    pa.field("brand_id", pa.string()),
]

UPLOADS: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("source", pa.string(), nullable=False),
        pa.field("producer", pa.string()),
        pa.field("object_key", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("content_type", pa.string()),
        pa.field("media_kind", pa.string()),
        pa.field("filename", pa.string()),
        pa.field("platforms", _STRINGS),
        pa.field("prompt", pa.string()),
        pa.field("gen_model", pa.string()),
        pa.field("gen_cost_usd", pa.float64()),
        pa.field("parent_media_id", pa.string()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)

BRAND_CHECKS: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("status", pa.string(), nullable=False),
        pa.field("verdict", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("brand_version", pa.int32()),
        pa.field("on_palette_ratio", pa.float64()),
        pa.field("logo_found", pa.bool_()),
        pa.field("logo_confidence", pa.float64()),
        pa.field("platforms_failed", _STRINGS),
        pa.field("violation_codes", _STRINGS),
        pa.field("media_kind", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("duration_s", pa.float64()),
        pa.field("frames_sampled", pa.int32()),
        pa.field("processing_ms", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("checks_version", pa.string()),
        pa.field("ai_generated", pa.bool_()),
        pa.field("ai_evidence", _STRINGS),
        pa.field("c2pa_state", pa.string()),
        pa.field("phashes", _STRINGS),
        pa.field("duplicate_of", pa.string()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)

ANALYSES: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("status", pa.string(), nullable=False),
        pa.field("analyzer", pa.string()),
        pa.field("model", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("cost_usd", pa.float64()),
        pa.field("cached", pa.bool_()),
        pa.field("latency_ms", pa.float64()),
        pa.field("shot_count", pa.int32()),
        pa.field("summary", pa.string()),
        pa.field("error", pa.string()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)

MEDIA_RESULTS: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("accepted_at", _TS),
        pa.field("source", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("verdict", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("analysis_status", pa.string()),
        pa.field("cost_usd", pa.float64()),
        pa.field("latency_ms", pa.float64()),
        pa.field("violation_codes", _STRINGS),
        pa.field("platforms", _STRINGS),
        pa.field("platforms_failed", _STRINGS),
        pa.field("error", pa.string()),
        pa.field("checks_version", pa.string()),
        pa.field("analyzer", pa.string()),
        pa.field("model", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("ai_generated", pa.bool_()),
        pa.field("duplicate_of", pa.string()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)

DEADLETTERS: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("error_type", pa.string()),
        pa.field("attempts", pa.int32()),
        pa.field("source_topic", pa.string()),
        pa.field("source_partition", pa.int32()),
        pa.field("source_offset", pa.int64()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)


REVIEWS: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("decision", pa.string(), nullable=False),
        pa.field("platforms", _STRINGS),
        pa.field("reason", pa.string()),
        pa.field("reviewer", pa.string(), nullable=False),
        pa.field("verdict", pa.string()),
        pa.field("checks_version", pa.string()),
        pa.field("result_event_id", pa.string()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)

DECISIONS: Final = pa.schema(
    [
        *_ENVELOPE,
        pa.field("state", pa.string(), nullable=False),
        pa.field("by", pa.string(), nullable=False),
        pa.field("platforms", _STRINGS),
        pa.field("reason", pa.string()),
        pa.field("reviewer", pa.string()),
        pa.field("verdict", pa.string()),
        pa.field("checks_version", pa.string()),
        pa.field("result_event_id", pa.string()),
        pa.field("review_event_id", pa.string()),
        *PROVENANCE,
        pa.field("payload", pa.string()),
    ]
)


@dataclass(frozen=True)
class Table:
    """A lake table: its name (the folder under `lake/`), schema and the topics that feed it."""

    name: str
    schema: pa.Schema
    topics: tuple[str, ...]


TABLES: Final = {
    t.name: t
    for t in (
        Table("uploads", UPLOADS, (topics.MEDIA_UPLOADED, topics.MEDIA_GENERATED)),
        Table("brand_checks", BRAND_CHECKS, (topics.BRAND_CHECKS,)),
        Table("analyses", ANALYSES, (topics.MEDIA_ANALYSES,)),
        Table("media_results", MEDIA_RESULTS, (topics.MEDIA_RESULTS,)),
        Table("deadletters", DEADLETTERS, (topics.DEADLETTER,)),
        Table("reviews", REVIEWS, (topics.REVIEWS,)),
        Table("decisions", DECISIONS, (topics.MEDIA_DECISIONS,)),
    )
}
TABLE_OF_TOPIC: Final = {topic: t for t in TABLES.values() for topic in t.topics}

LakeEvent = (
    MediaUploaded
    | MediaGenerated
    | BrandCheck
    | MediaAnalysis
    | MediaResult
    | DeadLetter
    | Review
    | MediaDecision
)


def partition_day(event: LakeEvent) -> date:
    """Day partition: the media id's own time, or the event time where there is no media."""
    if event.media_id is not None and event.media_id.version == 7:
        return uuid7_time(event.media_id).date()
    return event.occurred_at.date()


def to_row(event: LakeEvent, topic: str, partition: int, offset: int) -> dict[str, Any]:
    """Map one event to one row of its table (see `TABLE_OF_TOPIC`)."""
    row: dict[str, Any] = {
        "event_id": str(event.event_id),
        "media_id": str(event.media_id) if event.media_id else None,
        "occurred_at": event.occurred_at,
        "dt": partition_day(event),
        "brand_id": None,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "payload": event.model_dump_json(by_alias=True),
    }
    row.update(_columns(event))
    return row


def _columns(event: LakeEvent) -> dict[str, Any]:
    match event:
        case MediaUploaded() | MediaGenerated():
            gen = event.generation if isinstance(event, MediaGenerated) else None
            return {
                "brand_id": event.brand_id,
                "source": "generated" if gen else "uploaded",
                "producer": event.producer,
                "object_key": event.object_key,
                "sha256": event.sha256,
                "size_bytes": event.size_bytes,
                "content_type": event.content_type,
                "media_kind": event.media_kind,
                "filename": event.filename,
                "platforms": list(event.platforms),
                "prompt": gen.prompt if gen else None,
                "gen_model": gen.model if gen else None,
                "gen_cost_usd": gen.cost_usd if gen else None,
                "parent_media_id": str(gen.parent_media_id)
                if gen and gen.parent_media_id
                else None,
            }
        case BrandCheck():
            return _brand_check_columns(event)
        case MediaAnalysis():
            return {
                "brand_id": event.source.brand_id,
                "status": event.status,
                "analyzer": event.analyzer,
                "model": event.model,
                "prompt_version": event.prompt_version,
                "input_tokens": event.usage.input_tokens,
                "output_tokens": event.usage.output_tokens,
                "cost_usd": event.usage.cost_usd,
                "cached": event.cached,
                "latency_ms": event.latency_ms,
                "shot_count": event.technical.shot_count if event.technical else None,
                "summary": event.content.summary if event.content else None,
                "error": event.error,
            }
        case MediaResult():
            check, analysis = event.brand_check, event.analysis
            latency = (event.occurred_at - event.source.accepted_at).total_seconds() * 1000
            return {
                "brand_id": event.source.brand_id,
                "accepted_at": event.source.accepted_at,
                "source": event.source.schema_id.split(".")[-1].split("/")[0],
                "status": event.status,
                "verdict": event.verdict,
                "score": event.score,
                "analysis_status": analysis.status,
                "cost_usd": analysis.usage.cost_usd,
                "latency_ms": latency,
                "violation_codes": [v.code for v in check.violations],
                "platforms": sorted(check.platforms),
                "platforms_failed": sorted(k for k, p in check.platforms.items() if not p.ok),
                "error": event.error,
                "checks_version": check.checks_version,
                "analyzer": analysis.analyzer,
                "model": analysis.model,
                "prompt_version": analysis.prompt_version,
                "ai_generated": check.provenance.ai_generated if check.provenance else None,
                "duplicate_of": _duplicate_of(check),
            }
        case Review():
            return {
                "brand_id": event.brand_id,
                "decision": event.decision,
                "platforms": list(event.platforms),
                "reason": event.reason,
                "reviewer": event.reviewer,
                "verdict": event.verdict,
                "checks_version": event.checks_version,
                "result_event_id": _str(event.result_event_id),
            }
        case MediaDecision():
            return {
                "brand_id": event.brand_id,
                "state": event.state,
                "by": event.by,
                "platforms": list(event.platforms),
                "reason": event.reason,
                "reviewer": event.reviewer,
                "verdict": event.verdict,
                "checks_version": event.checks_version,
                "result_event_id": _str(event.result_event_id),
                "review_event_id": _str(event.review_event_id),
            }
        case DeadLetter():
            return {
                "stage": event.stage,
                "reason": event.reason,
                "error_type": event.error_type,
                "attempts": event.attempts,
                "source_topic": event.source_topic,
                "source_partition": event.source_partition,
                "source_offset": event.source_offset,
            }
    msg = f"no lake table for {type(event).__name__}"
    raise TypeError(msg)


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _brand_check_columns(event: BrandCheck) -> dict[str, Any]:
    media, logo = event.media, event.logo
    return {
        "brand_id": event.source.brand_id,
        "status": event.status,
        "verdict": event.verdict,
        "score": event.score,
        "brand_version": event.brand_version,
        "on_palette_ratio": event.palette.on_palette_ratio if event.palette else None,
        "logo_found": logo.found if logo else None,
        "logo_confidence": logo.confidence if logo else None,
        "platforms_failed": sorted(k for k, p in event.platforms.items() if not p.ok),
        "violation_codes": [v.code for v in event.violations],
        "media_kind": media.kind if media else None,
        "width": media.width if media else None,
        "height": media.height if media else None,
        "duration_s": media.duration_s if media else None,
        "frames_sampled": event.frames_sampled,
        "processing_ms": event.processing_ms,
        "error": event.error,
        "checks_version": event.checks_version,
        "ai_generated": event.provenance.ai_generated if event.provenance else None,
        "ai_evidence": list(event.provenance.evidence) if event.provenance else [],
        "c2pa_state": _c2pa_state(event),
        "phashes": list(event.fingerprint.phash) if event.fingerprint else [],
        "duplicate_of": _duplicate_of(event),
    }


def _c2pa_state(check: BrandCheck) -> str | None:
    """The manifest's validation state; `absent` for a file read without one."""
    if check.provenance is None:
        return None
    return check.provenance.c2pa.validation_state if check.provenance.c2pa else "absent"


def _duplicate_of(check: BrandCheck) -> str | None:
    return str(check.duplicate_of.media_id) if check.duplicate_of else None
