"""The base model, bounded field types and closed vocabularies every contract is made of.

Ints fit the Arrow type of their lake column, floats are finite, strings, lists and maps are
capped: so the intake refuses what the lake or a Kafka message could not hold instead of
failing downstream (`tests/schemas/test_bounds.py` fails on an unbounded field).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from schemas.ids import is_uuid7

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


# --- bounds -------------------------------------------------------------------------------

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SHORT_TEXT_MAX = 200  # ids, names, versions, codes
PHRASE_MAX = 1_000  # one item of a list of words or lines (labels, OCR lines, topics)
TEXT_MAX = 4_096  # a message or reason for people
KEY_MAX = 1_024  # an object key, a Kafka record key
TOPIC_MAX = 249  # Kafka's own limit on topic names
PROMPT_MAX = 20_000
# a dead letter carries the refused message as base64 and must itself fit one Kafka message
# (producer `max_request_size` defaults to 1 000 000 bytes): 512 KiB of base64 = 384 KiB raw
PAYLOAD_B64_MAX = 512 * 1024
LABELS_MAX, LABEL_KEY_MAX, LABEL_VALUE_MAX = 50, 64, 256
LIST_MAX = 100  # words, topics, problems: far more than any producer emits
FEW_MAX = 16  # lists and maps over a small closed set (platforms, logo zones, check names)


def _clip(value: object) -> object:
    """Cut an over-long diagnostic instead of refusing the event that carries it."""
    if isinstance(value, str) and len(value) > TEXT_MAX:
        return value[: TEXT_MAX - 1] + "\u2026"
    return value


Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]  # lands in int32 columns (frames, shots)
BigCount = Annotated[int, Field(ge=0, le=INT64_MAX)]  # int64 columns (tokens, offsets, bytes)
Positive = Annotated[int, Field(ge=1, le=INT32_MAX)]  # versions, attempts (int32 columns)
ByteSize = Annotated[int, Field(ge=1, le=INT64_MAX)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Ratio = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
ShortText = Annotated[str, Field(max_length=SHORT_TEXT_MAX)]
Phrase = Annotated[str, Field(max_length=PHRASE_MAX)]
Text = Annotated[str, Field(max_length=TEXT_MAX)]
Diagnostic = Annotated[str, Field(max_length=TEXT_MAX), BeforeValidator(_clip)]
"""An error or reason built from exceptions and third-party output: cut to `TEXT_MAX`, so
a long one can never stop a failed result or a dead letter from being written."""
TopicName = Annotated[str, Field(min_length=1, max_length=TOPIC_MAX)]
LabelKey = Annotated[str, Field(min_length=1, max_length=LABEL_KEY_MAX)]
LabelValue = Annotated[str, Field(max_length=LABEL_VALUE_MAX)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=LABELS_MAX)]
MapKey = Annotated[str, Field(max_length=LABEL_KEY_MAX)]  # a platform or check name
Platforms = Annotated[list[Platform], Field(max_length=FEW_MAX)]

Uuid7 = Annotated[UUID, AfterValidator(_require_uuid7)]
ObjectKey = Annotated[str, Field(min_length=1, max_length=KEY_MAX, pattern=r"^[A-Za-z0-9._\-/]+$")]
Sha256Hex = Annotated[str, Field(max_length=64, pattern=r"^[0-9a-f]{64}$")]
HexColour = Annotated[str, Field(max_length=7, pattern=r"^#[0-9a-fA-F]{6}$")]
BrandId = Annotated[str, Field(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
BBox = Annotated[list[Finite], Field(min_length=4, max_length=4)]


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


class Model(BaseModel):
    """Base of every contract: unknown fields are errors, instances are immutable, and no
    float is NaN or infinite (JSON cannot carry them; pydantic would write `null`)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
