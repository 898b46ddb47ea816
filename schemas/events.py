"""Event models: one class per event type and version, serialised as JSON on Kafka.

Every event carries the envelope (`schema`, `event_id`, `media_id`, `occurred_at`, `producer`).
Additive, optional fields keep the version; anything else is a new `/N` schema and `.vN` topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from schemas.ids import is_uuid7, uuid7

Platform = Literal[
    "instagram_reels",
    "instagram_stories",
    "instagram_feed",
    "tiktok",
    "youtube_shorts",
    "youtube",
    "linkedin",
]
MediaKind = Literal["image", "video"]
Verdict = Literal["pass", "warn", "fail"]
CheckStatus = Literal["ok", "skipped", "failed"]


def _require_uuid7(value: UUID) -> UUID:
    if not is_uuid7(value):
        msg = "must be a UUIDv7 (time-ordered); generate it with uuid7()"
        raise ValueError(msg)
    return value


Uuid7 = Annotated[UUID, AfterValidator(_require_uuid7)]
ObjectKey = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z0-9._\-/]+$")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
HexColour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
BrandId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


class Model(BaseModel):
    """Base of every contract: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Envelope(Model):
    """Fields every event carries; `schema` names the type and its version."""

    schema_id: str = Field(alias="schema")
    event_id: Uuid7 = Field(default_factory=uuid7)
    media_id: Uuid7
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: str = Field(min_length=1, max_length=200)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


# --- inputs -------------------------------------------------------------------------------


class MediaSubmission(Envelope):
    """What both input events share: where the bytes are and what to check them against."""

    object_key: ObjectKey
    sha256: Sha256Hex
    size_bytes: int = Field(ge=1)
    content_type: str
    media_kind: MediaKind
    filename: str | None = Field(default=None, max_length=255)
    brand_id: BrandId | None = None
    platforms: list[Platform] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class MediaUploaded(MediaSubmission):
    schema_id: Literal["reelscope.media.uploaded/1"] = Field(
        default="reelscope.media.uploaded/1", alias="schema"
    )


class Generation(Model):
    """How a generated asset was made: its prompt, model, seed, cost and parent."""

    prompt: str = Field(min_length=1, max_length=20_000)
    model: str = Field(min_length=1, max_length=200)
    generator: str | None = Field(default=None, max_length=200)
    seed: int | None = None
    cost_usd: float | None = Field(default=None, ge=0)
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
    container: str
    codec: str | None = None
    width: int
    height: int
    duration_s: float | None = None
    fps: float | None = None
    has_audio: bool = False
    size_bytes: int


class Violation(Model):
    """One broken rule: a stable code for machines, a message for people, evidence for both."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_.]*$")
    severity: Literal["fail", "warn"]
    message: str
    frame_s: float | None = None
    bbox: list[float] | None = None
    measured: float | str | None = None
    required: float | str | None = None


class DominantColour(Model):
    hex: HexColour
    share: float
    nearest_brand_hex: HexColour | None = None
    delta_e: float | None = None


class PaletteCheck(Model):
    status: CheckStatus
    reason: str | None = None
    on_palette_ratio: float | None = None
    dominant: list[DominantColour] = Field(default_factory=list)
    off_palette: list[HexColour] = Field(default_factory=list)


class LogoCheck(Model):
    status: CheckStatus
    reason: str | None = None
    found: bool | None = None
    bbox: list[float] | None = Field(default=None, description="normalised [x, y, w, h]")
    confidence: float | None = None
    area_pct: float | None = None
    first_seen_s: float | None = None
    screen_share: float | None = None
    in_allowed_zone: bool | None = None


class TextCheck(Model):
    """Required text (e.g. an ad disclosure) read by offline OCR on a few sampled frames."""

    status: CheckStatus
    required: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    read: list[str] = Field(default_factory=list)
    coverage: float | None = Field(default=None, description="share of the frame under text")


class PlatformFit(Model):
    ok: bool
    problems: list[str] = Field(default_factory=list)


class QualityCheck(Model):
    status: CheckStatus
    sharpness: float | None = None
    brightness: float | None = None
    contrast: float | None = None
    clipped_highlights: float | None = None
    clipped_shadows: float | None = None
    black_frame_ratio: float | None = None
    frozen_frame_ratio: float | None = None


class SourceRef(Model):
    """The input event a derived event answers, so results can be joined and timed."""

    event_id: UUID
    schema_id: str
    accepted_at: AwareDatetime
    brand_id: BrandId | None = None


# --- derived events -----------------------------------------------------------------------


class BrandCheck(Envelope):
    schema_id: Literal["reelscope.brand.check/1"] = Field(
        default="reelscope.brand.check/1", alias="schema"
    )
    source: SourceRef
    status: Literal["done", "failed"]
    error: str | None = None
    brand_version: int | None = None
    checks_version: str
    verdict: Verdict | None = None
    score: float | None = None
    media: MediaInfo | None = None
    frames_sampled: int = 0
    palette: PaletteCheck | None = None
    logo: LogoCheck | None = None
    platforms: dict[str, PlatformFit] = Field(default_factory=dict)
    quality: QualityCheck | None = None
    text: TextCheck | None = None
    violations: list[Violation] = Field(default_factory=list)
    processing_ms: float = 0.0


class Usage(Model):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    estimated_cost_usd: float | None = None


class TechnicalAnalysis(Model):
    """What a local, offline analyzer measures; unknowns are null, never guessed."""

    scene_cuts_s: list[float] = Field(default_factory=list)
    shot_count: int | None = None
    mean_shot_s: float | None = None
    motion: float | None = None
    brightness: float | None = None
    colourfulness: float | None = None
    sharpness: float | None = None
    faces_max: int | None = None
    text_coverage: float | None = None
    audio_present: bool | None = None
    loudness_lufs: float | None = None
    silence_ratio: float | None = None
    thumbnail_key: str | None = None


class ContentAnalysis(Model):
    """What a model understands of the media; every field is optional."""

    summary: str | None = None
    topics: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    on_screen_text: list[str] = Field(default_factory=list)
    spoken_content: str | None = None
    brands_seen: list[str] = Field(default_factory=list)
    people_count: int | None = None
    tone: str | None = None
    sentiment: str | None = None
    brand_safety: list[str] = Field(default_factory=list)
    hook_assessment: str | None = None
    call_to_action: bool | None = None
    platform_suitability: dict[str, str] = Field(default_factory=dict)
    prompt_adherence: float | None = None
    prompt_mismatches: list[str] = Field(default_factory=list)


AnalysisStatus = Literal["done", "failed", "deferred", "blocked", "invalid_output"]


class MediaAnalysis(Envelope):
    schema_id: Literal["reelscope.media.analysis/1"] = Field(
        default="reelscope.media.analysis/1", alias="schema"
    )
    source: SourceRef
    status: AnalysisStatus
    error: str | None = None
    analyzer: str
    model: str | None = None
    prompt_version: str | None = None
    media: MediaInfo | None = None
    technical: TechnicalAnalysis | None = None
    content: ContentAnalysis | None = None
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False
    latency_ms: float = 0.0


class MediaResult(Envelope):
    """The joined answer downstream apps gate publishing on."""

    schema_id: Literal["reelscope.media.result/1"] = Field(
        default="reelscope.media.result/1", alias="schema"
    )
    source: SourceRef
    status: Literal["done", "failed"]
    verdict: Verdict | None = None
    score: float | None = None
    error: str | None = None
    brand_check: BrandCheck
    analysis: MediaAnalysis


class DeadLetter(Model):
    """A message no stage could process, kept whole with the reason and where it came from."""

    schema_id: Literal["reelscope.deadletter/1"] = Field(
        default="reelscope.deadletter/1", alias="schema"
    )
    event_id: Uuid7 = Field(default_factory=uuid7)
    media_id: UUID | None = None
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: str
    stage: str
    reason: str
    error_type: str
    attempts: int = 1
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: str | None = None
    payload_b64: str

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


# --- brands -------------------------------------------------------------------------------

LogoZone = Literal[
    "top_left", "top_right", "bottom_left", "bottom_right", "top", "bottom", "center", "any"
]


class BrandColour(Model):
    hex: HexColour
    role: Literal["primary", "secondary", "accent"] | None = None


class Thresholds(Model):
    """Score at or above `pass_at` passes, at or above `warn_at` warns, else fails."""

    pass_at: float = Field(default=0.8, ge=0, le=1)
    warn_at: float = Field(default=0.6, ge=0, le=1)


class BrandRules(Model):
    """What a brand manager writes: the body of `PUT /v1/brands/{brand_id}`."""

    name: str = Field(min_length=1, max_length=200)
    palette: list[BrandColour] = Field(default_factory=list, max_length=64)
    tolerance_de: float = Field(default=12.0, gt=0, le=100)
    min_logo_area_pct: float = Field(default=1.0, ge=0, le=100)
    logo_zones: list[LogoZone] = Field(default_factory=lambda: list[LogoZone](["any"]))
    clear_space_pct: float = Field(default=0.0, ge=0, le=200)
    required_text: list[str] = Field(default_factory=list)
    platforms: list[Platform] = Field(default_factory=list)
    weights: dict[str, float] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)


class BrandProfile(BrandRules):
    """A stored, versioned profile as it travels on `reelscope.brands.v1`."""

    schema_id: Literal["reelscope.brand.profile/1"] = Field(
        default="reelscope.brand.profile/1", alias="schema"
    )
    brand_id: BrandId
    version: int = Field(ge=1)
    logos: list[ObjectKey] = Field(default_factory=list)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "reelscope.media.uploaded/1": MediaUploaded,
    "reelscope.media.generated/1": MediaGenerated,
    "reelscope.brand.check/1": BrandCheck,
    "reelscope.media.analysis/1": MediaAnalysis,
    "reelscope.media.result/1": MediaResult,
    "reelscope.deadletter/1": DeadLetter,
    "reelscope.brand.profile/1": BrandProfile,
}


def json_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """Return the JSON Schema we publish for a model (by alias, as it is on the wire)."""
    return model.model_json_schema(by_alias=True, mode="serialization")
