"""Wire shapes of the API (what clients send and get), apart from the stored and event shapes."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import Generation
from schemas.fields import BrandId, Labels, Platforms, Verdict
from schemas.reviews import GateState

MediaState = Literal["processing", "done", "failed"]
MAX_LABELS = 32


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepted(WireModel):
    """Answer to an accepted upload or generation: poll `status_url` for the result."""

    media_id: UUID
    status: Literal["processing"] = "processing"
    status_url: str


class GateDecision(WireModel):
    """The publishing gate's state (`reelscope.media.decisions.v1`): publish on `approved`
    (for `platforms` only when it names some), never on `rejected`, wait on `pending`."""

    state: GateState
    by: Literal["auto", "human"]
    platforms: list[str] = Field(default_factory=list)
    reason: str | None = None
    reviewer: str | None = None
    at: AwareDatetime | None = None


class MediaStatus(WireModel):
    """Where one asset stands; `brand_check` and `analysis` are the result events' payloads."""

    media_id: UUID
    status: MediaState
    verdict: Verdict | None = None
    brand_id: str | None = None
    brand_check: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    error: str | None = None
    decision: GateDecision | None = None


class MediaPage(WireModel):
    items: list[MediaStatus]
    next: str | None = Field(default=None, description="pass as `after` for the next page")


class GenerationRequest(WireModel):
    """A generated asset already in the bucket, with how it was made."""

    object_key: str = Field(
        max_length=1024,
        description="key under media/ or generated/, or s3://<this bucket>/<that key>",
        examples=["generated/2026/01/02/clip-17.mp4"],
    )
    generation: Generation
    brand_id: BrandId | None = None
    platforms: Platforms = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict, max_length=MAX_LABELS)


class ErrorDetail(WireModel):
    code: str
    message: str
    hint: str
    fields: list[dict[str, str]] | None = None


class ErrorBody(WireModel):
    error: ErrorDetail


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the JSON errors a route can answer; a route that takes a
    key (401) can also be over the key's quota (429)."""
    answered = {*codes, 429} if 401 in codes else set(codes)
    return {code: {"model": ErrorBody} for code in sorted(answered)}
