"""Valid, deterministic events of one media's life, for lake tests, demos and benchmarks.

Everything is built through the real `schemas.events` models (by `synthetic.events`), so a row
made from these events is exactly what the sink writes in production; only the ids' timestamps
are chosen here.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from processors.keys import media_key
from processors.synthetic import events as make
from schemas.events import (
    BrandCheck,
    DeadLetter,
    MediaAnalysis,
    MediaResult,
    MediaUploaded,
    PlatformFit,
    Usage,
    Violation,
)
from schemas.fields import Verdict

PRODUCER = "reelscope-synthetic"


def uuid7_at(when: datetime, counter: int = 0) -> UUID:
    """Return a UUIDv7 whose embedded time is `when` (ids of past days, for partitioned tests)."""
    ms = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = ms << 80 | 0x7 << 76 | (counter & 0xFFF) << 64 | 0b10 << 62 | rand_b
    return UUID(int=value)


@dataclass(frozen=True)
class Life:
    """Every event one media produces on its way through the pipeline."""

    uploaded: MediaUploaded
    brand_check: BrandCheck
    analysis: MediaAnalysis
    result: MediaResult


def uploaded(when: datetime, *, brand_id: str | None = "acme", counter: int = 0) -> MediaUploaded:
    """An accepted upload whose media id (and so its lake day) is `when`."""
    media_id = uuid7_at(when, counter)
    return make.uploaded(
        event_id=uuid7_at(when, counter),
        media_id=media_id,
        occurred_at=when,
        producer=PRODUCER,
        object_key=media_key(media_id),
        sha256=hashlib.sha256(media_id.bytes).hexdigest(),
        size_bytes=1024 + counter,
        filename=f"clip-{counter}.mp4",
        brand_id=brand_id,
        platforms=["tiktok", "youtube_shorts"],
    )


def life(
    when: datetime,
    *,
    brand_id: str | None = "acme",
    verdict: Verdict = "pass",
    status: Literal["done", "failed"] = "done",
    violations: tuple[str, ...] = (),
    latency: timedelta = timedelta(seconds=3),
    counter: int = 0,
) -> Life:
    """An upload and the brand check, analysis and result that answer it `latency` later."""
    up = uploaded(when, brand_id=brand_id, counter=counter)
    ref = make.source(up)  # accepted `when`, for `brand_id`
    done = when + latency
    check = make.brand_check(
        media_id=up.media_id,
        occurred_at=done - timedelta(milliseconds=500),
        producer=PRODUCER,
        source=ref,
        status=status,
        checks_version="checks/1",
        verdict=verdict if status == "done" else None,
        score={"pass": 0.9, "warn": 0.7, "fail": 0.3}[verdict] if status == "done" else None,
        platforms={"tiktok": PlatformFit(ok=True), "youtube": PlatformFit(ok=not violations)},
        violations=[Violation(code=c, severity="fail", message=c) for c in violations],
        processing_ms=120.0,
    )
    analysis = make.analysis(
        media_id=up.media_id,
        occurred_at=done - timedelta(milliseconds=200),
        producer=PRODUCER,
        source=ref,
        model="opencv",
        prompt_version="p1",
        usage=Usage(cost_usd=0.001),
        latency_ms=800.0,
    )
    result = make.result(
        check,
        analysis,
        occurred_at=done,
        producer=PRODUCER,
        status=status,
        error=None if status == "done" else "unreadable media",
    )
    return Life(up, check, analysis, result)


def dead_letter(
    when: datetime, media_id: UUID | None, *, stage: str = "brand_checks"
) -> DeadLetter:
    """A poison input dead-lettered by `stage`."""
    return DeadLetter(
        event_id=uuid7_at(when),
        media_id=media_id,
        occurred_at=when,
        producer=PRODUCER,
        stage=stage,
        reason="undecodable",
        error_type="ValidationError",
        source_topic="reelscope.media.uploaded.v1",
        source_partition=0,
        source_offset=7,
        payload_b64=base64.b64encode(b"{not json").decode(),
    )


def day(year: int, month: int, dd: int, hour: int = 12) -> datetime:
    """A UTC datetime on a given day (noon by default, far from day edges)."""
    return datetime(year, month, dd, hour, tzinfo=UTC)
