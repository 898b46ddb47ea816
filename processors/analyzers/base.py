"""The analyzer contract every implementation and test double fulfils.

`analyze` returns a complete `MediaAnalysis` event for every input it can judge, including a
`failed` one for media it cannot read. It raises only `AnalyzerUnavailable` (a transient fault:
retry later) or `AnalyzerRejected` (the input will never be accepted: dead-letter it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from schemas.events import (
    AnalysisStatus,
    MediaAnalysis,
    MediaGenerated,
    MediaInfo,
    MediaUploaded,
    SourceRef,
)
from schemas.provenance import DuplicateOf


class AnalyzerSettings(BaseModel):
    name: Literal["auto", "local", "gemini"] = Field(
        default="auto", description="'auto' picks gemini when an API key is configured"
    )
    concurrency: int = Field(default=8, ge=1)
    profile: Literal["fast", "thorough"] = Field(
        default="fast",
        description="local analyzer: 'fast' decodes keyframes first (and in full only the GOPs "
        "that may hold a cut); 'thorough' decodes every frame for cuts and motion",
    )


@dataclass(frozen=True)
class AnalysisRequest:
    """A local copy of the media, the event that asked for it, and the probe result if known;
    `same_as`: an earlier upload of the same brand with the same content, whose analysis an
    analyzer that pays per call may reuse."""

    path: Path
    event: MediaUploaded | MediaGenerated
    media: MediaInfo | None = None
    producer: str = "reelscope-worker"
    same_as: DuplicateOf | None = None


class Analyzer(Protocol):
    name: str

    async def analyze(self, request: AnalysisRequest) -> MediaAnalysis: ...

    async def aclose(self) -> None: ...


def source_ref(event: MediaUploaded | MediaGenerated) -> SourceRef:
    """Reference a derived event keeps to the input it answers."""
    return SourceRef(
        event_id=event.event_id,
        schema_id=event.schema_id,
        accepted_at=event.occurred_at,
        brand_id=event.brand_id,
    )


def analysis_of(
    event: MediaUploaded | MediaGenerated,
    *,
    producer: str,
    analyzer: str,
    status: AnalysisStatus,
    **fields: Any,
) -> MediaAnalysis:
    """The analysis answering `event`: the one place its identity and source are filled in."""
    return MediaAnalysis(
        media_id=event.media_id,
        producer=producer,
        source=source_ref(event),
        status=status,
        analyzer=analyzer,
        **fields,
    )
