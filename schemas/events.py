"""Event models: one class per event type and version, serialised as JSON on Kafka.

Every event carries the envelope (`schema`, `event_id`, `media_id`, `occurred_at`, `producer`).
Additive, optional fields keep the version; anything else is a new `/N` schema and `.vN` topic.

Every field is bounded (ints to the Arrow type of their lake column, floats finite, strings,
lists and maps capped; `tests/schemas/test_bounds.py` fails on an unbounded one), so the intake
refuses what the lake or a Kafka message could not hold instead of failing downstream. Caps are
bounds on what was always meant, so tightening them keeps the version.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    TypeAdapter,
)

from schemas.envelope import Envelope
from schemas.fields import (
    FEW_MAX,
    KEY_MAX,
    LIST_MAX,
    PAYLOAD_B64_MAX,
    PROMPT_MAX,
    BBox,
    BigCount,
    BrandId,
    ByteSize,
    CheckStatus,
    Count,
    Diagnostic,
    Finite,
    HexColour,
    Int64,
    Labels,
    MapKey,
    MediaKind,
    Model,
    NonNegative,
    ObjectKey,
    Phrase,
    Platforms,
    Positive,
    Ratio,
    Sha256Hex,
    ShortText,
    Text,
    TopicName,
    Uuid7,
    Verdict,
    utcnow,
)
from schemas.ids import uuid7
from schemas.profiles import BrandProfile
from schemas.provenance import DuplicateOf, Fingerprint, Provenance
from schemas.reviews import MediaDecision, Review

# --- inputs -------------------------------------------------------------------------------


class MediaSubmission(Envelope):
    """What both input events share: where the bytes are and what to check them against."""

    object_key: ObjectKey
    sha256: Sha256Hex
    size_bytes: ByteSize
    content_type: ShortText
    media_kind: MediaKind
    filename: str | None = Field(default=None, max_length=255)
    brand_id: BrandId | None = None
    platforms: Platforms = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)


class MediaUploaded(MediaSubmission):
    schema_id: Literal["reelscope.media.uploaded/1"] = Field(
        default="reelscope.media.uploaded/1", alias="schema"
    )


class Generation(Model):
    """How a generated asset was made: its prompt, model, seed, cost and parent."""

    prompt: str = Field(min_length=1, max_length=PROMPT_MAX)
    model: ShortText = Field(min_length=1)
    generator: ShortText | None = None
    seed: Int64 | None = None
    cost_usd: NonNegative | None = None
    parent_media_id: UUID | None = None


class MediaGenerated(MediaSubmission):
    schema_id: Literal["reelscope.media.generated/1"] = Field(
        default="reelscope.media.generated/1", alias="schema"
    )
    generation: Generation


InputEvent = Annotated[MediaUploaded | MediaGenerated, Field(discriminator="schema_id")]
INPUT_EVENT: TypeAdapter[MediaUploaded | MediaGenerated] = TypeAdapter(InputEvent)


# --- shared result parts ------------------------------------------------------------------


class MediaInfo(Model):
    """What the probe found in the bytes (never what the client claimed)."""

    kind: MediaKind
    container: ShortText
    codec: ShortText | None = None
    width: Count
    height: Count
    duration_s: NonNegative | None = None
    fps: NonNegative | None = None
    has_audio: bool = False
    size_bytes: BigCount


class Violation(Model):
    """One broken rule: a stable code for machines, a message for people, evidence for both."""

    code: ShortText = Field(pattern=r"^[a-z][a-z0-9_.]*$")
    severity: Literal["fail", "warn"]
    message: Text
    frame_s: NonNegative | None = None
    bbox: BBox | None = None
    measured: Finite | Phrase | None = None
    required: Finite | Phrase | None = None


class DominantColour(Model):
    hex: HexColour
    share: Ratio
    nearest_brand_hex: HexColour | None = None
    delta_e: NonNegative | None = None


class PaletteCheck(Model):
    status: CheckStatus
    reason: Diagnostic | None = None
    on_palette_ratio: Ratio | None = None
    dominant: list[DominantColour] = Field(default_factory=list, max_length=64)
    off_palette: list[HexColour] = Field(default_factory=list, max_length=64)


class LogoCheck(Model):
    status: CheckStatus
    reason: Diagnostic | None = None
    found: bool | None = None
    bbox: BBox | None = Field(default=None, description="normalised [x, y, w, h]")
    confidence: Finite | None = None
    area_pct: NonNegative | None = None
    first_seen_s: NonNegative | None = None
    screen_share: Ratio | None = None
    in_allowed_zone: bool | None = None


class TextCheck(Model):
    """Required text (e.g. an ad disclosure) read by offline OCR on a few sampled frames."""

    status: CheckStatus
    required: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    missing: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    read: list[Phrase] = Field(default_factory=list, max_length=1_000)  # OCR lines, <= 3 frames
    coverage: Ratio | None = Field(default=None, description="share of the frame under text")


class PlatformFit(Model):
    ok: bool
    problems: list[Text] = Field(default_factory=list, max_length=LIST_MAX)
    ai_label_required: bool | None = None  # null: whether the asset is AI is not known
    ai_label: Text | None = None  # what to set on the platform for an AI asset


class QualityCheck(Model):
    status: CheckStatus
    sharpness: NonNegative | None = None
    brightness: NonNegative | None = None
    contrast: NonNegative | None = None
    clipped_highlights: Ratio | None = None
    clipped_shadows: Ratio | None = None
    black_frame_ratio: Ratio | None = None
    frozen_frame_ratio: Ratio | None = None


class SourceRef(Model):
    """The input event a derived event answers, so results can be joined and timed."""

    event_id: UUID
    schema_id: ShortText
    accepted_at: AwareDatetime
    brand_id: BrandId | None = None


# --- derived events -----------------------------------------------------------------------


class BrandCheck(Envelope):
    schema_id: Literal["reelscope.brand.check/1"] = Field(
        default="reelscope.brand.check/1", alias="schema"
    )
    source: SourceRef
    status: Literal["done", "failed"]
    error: Diagnostic | None = None
    brand_version: Positive | None = None
    checks_version: ShortText
    verdict: Verdict | None = None
    score: Ratio | None = None
    media: MediaInfo | None = None
    frames_sampled: Count = 0
    palette: PaletteCheck | None = None
    logo: LogoCheck | None = None
    platforms: dict[MapKey, PlatformFit] = Field(default_factory=dict, max_length=FEW_MAX)
    quality: QualityCheck | None = None
    text: TextCheck | None = None
    violations: list[Violation] = Field(default_factory=list, max_length=256)
    processing_ms: NonNegative = 0.0
    provenance: Provenance | None = None
    fingerprint: Fingerprint | None = None
    duplicate_of: DuplicateOf | None = None


class Usage(Model):
    input_tokens: BigCount | None = None
    output_tokens: BigCount | None = None
    cost_usd: NonNegative | None = None
    estimated_cost_usd: NonNegative | None = None


class TechnicalAnalysis(Model):
    """What a local, offline analyzer measures; unknowns are null, never guessed."""

    # a cut is at least MIN_SHOT_S (0.3 s) after the last: 10 000 covers 50 minutes of cuts
    scene_cuts_s: list[Finite] = Field(default_factory=list, max_length=10_000)
    shot_count: Count | None = None
    mean_shot_s: NonNegative | None = None
    motion: NonNegative | None = None
    brightness: Ratio | None = None
    colourfulness: NonNegative | None = None
    sharpness: NonNegative | None = None
    faces_max: Count | None = None
    text_coverage: Ratio | None = None
    audio_present: bool | None = None
    loudness_lufs: Finite | None = None
    silence_ratio: Ratio | None = None
    thumbnail_key: str | None = Field(default=None, max_length=KEY_MAX)


class ContentAnalysis(Model):
    """What a model understands of the media; every field is optional."""

    summary: Text | None = None
    topics: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    labels: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    on_screen_text: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    spoken_content: Text | None = None
    brands_seen: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    people_count: Count | None = None
    tone: ShortText | None = None
    sentiment: ShortText | None = None
    brand_safety: list[ShortText] = Field(default_factory=list, max_length=LIST_MAX)
    hook_assessment: Text | None = None
    call_to_action: bool | None = None
    platform_suitability: dict[MapKey, Text] = Field(default_factory=dict, max_length=FEW_MAX)
    prompt_adherence: Ratio | None = None
    prompt_mismatches: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)


AnalysisStatus = Literal["done", "failed", "deferred", "blocked", "invalid_output"]


class MediaAnalysis(Envelope):
    schema_id: Literal["reelscope.media.analysis/1"] = Field(
        default="reelscope.media.analysis/1", alias="schema"
    )
    source: SourceRef
    status: AnalysisStatus
    error: Diagnostic | None = None
    analyzer: ShortText
    model: ShortText | None = None
    prompt_version: ShortText | None = None
    media: MediaInfo | None = None
    technical: TechnicalAnalysis | None = None
    content: ContentAnalysis | None = None
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False
    reused_from: UUID | None = None  # the earlier upload of the brand whose analysis this is
    latency_ms: NonNegative = 0.0


class MediaResult(Envelope):
    """The joined answer downstream apps gate publishing on."""

    schema_id: Literal["reelscope.media.result/1"] = Field(
        default="reelscope.media.result/1", alias="schema"
    )
    source: SourceRef
    status: Literal["done", "failed"]
    verdict: Verdict | None = None
    score: Ratio | None = None
    error: Diagnostic | None = None  # both halves' errors joined: cut like theirs
    brand_check: BrandCheck
    analysis: MediaAnalysis


class DeadLetter(Model):
    """A message no stage could process, kept with the reason and where it came from (whole
    up to 384 KiB; beyond, its head, with `payload_truncated`)."""

    schema_id: Literal["reelscope.deadletter/1"] = Field(
        default="reelscope.deadletter/1", alias="schema"
    )
    event_id: Uuid7 = Field(default_factory=uuid7)
    media_id: UUID | None = None
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: ShortText
    stage: ShortText
    reason: Diagnostic
    error_type: ShortText
    attempts: Positive = 1
    source_topic: TopicName
    source_partition: Count
    source_offset: BigCount
    source_key: str | None = Field(default=None, max_length=KEY_MAX)
    payload_b64: str = Field(max_length=PAYLOAD_B64_MAX)
    payload_truncated: bool = Field(
        default=False, description="payload_b64 holds only the message's first bytes"
    )

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


# --- brands -------------------------------------------------------------------------------

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "reelscope.media.uploaded/1": MediaUploaded,
    "reelscope.media.generated/1": MediaGenerated,
    "reelscope.brand.check/1": BrandCheck,
    "reelscope.media.analysis/1": MediaAnalysis,
    "reelscope.media.result/1": MediaResult,
    "reelscope.deadletter/1": DeadLetter,
    "reelscope.brand.profile/1": BrandProfile,
    "reelscope.review/1": Review,
    "reelscope.media.decision/1": MediaDecision,
}


def json_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """Return the JSON Schema we publish for a model (by alias, as it is on the wire)."""
    return model.model_json_schema(by_alias=True, mode="serialization")
