"""People's decisions and the publishing gate.

`Review` (on `reelscope.reviews.v1`) is what a reviewer decided on the review page: the API
produces it and nothing else. `MediaDecision` (on `reelscope.media.decisions.v1`, keyed by
media id) is the gate's state, written by one worker agent from results and reviews: the latest
record per key is the media's final word (`pending`, `approved`, `rejected`), automatic or human.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from schemas.envelope import Envelope
from schemas.fields import BrandId, Diagnostic, Platforms, ShortText, Text, Uuid7, Verdict

Decision = Literal["approved", "rejected"]
GateState = Literal["pending", "approved", "rejected"]


class Review(Envelope):
    """One reviewer's decision on one media, with the machine answer it confirmed or overruled."""

    schema_id: Literal["reelscope.review/1"] = Field(default="reelscope.review/1", alias="schema")
    brand_id: BrandId | None = None
    decision: Decision
    platforms: Platforms = Field(
        default_factory=list, description="approved for these platforms only; empty: all"
    )
    reason: Text | None = None
    reviewer: ShortText = Field(min_length=1, description="the reviewer's key name")
    verdict: Verdict | None = Field(default=None, description="the machine verdict reviewed")
    checks_version: ShortText | None = None
    result_event_id: Uuid7 | None = Field(default=None, description="the result reviewed")

    @model_validator(mode="after")
    def _rejection_says_why(self) -> Review:
        if self.decision == "rejected" and not (self.reason or "").strip():
            msg = "a rejection needs a reason: the producer has to know what to change"
            raise ValueError(msg)
        return self


class MediaDecision(Envelope):
    """The gate's state for one media: what a downstream app publishes by."""

    schema_id: Literal["reelscope.media.decision/1"] = Field(
        default="reelscope.media.decision/1", alias="schema"
    )
    brand_id: BrandId | None = None
    state: GateState
    by: Literal["auto", "human"]
    platforms: Platforms = Field(default_factory=list, description="approved for; empty: all")
    reason: Diagnostic | None = None
    reviewer: ShortText | None = None
    verdict: Verdict | None = None
    checks_version: ShortText | None = None
    result_event_id: Uuid7 | None = None
    result_at: AwareDatetime | None = Field(default=None, description="the result's time")
    review_event_id: Uuid7 | None = None
    reviewed_at: AwareDatetime | None = None
