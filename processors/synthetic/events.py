"""Valid events with plain defaults, for the tests and the benchmarks; keywords replace fields.

One builder per event the tests construct: `uploaded`, `generated`, `source`, `brand_check`,
`analysis`, `result`, `profile`, and the probed `video_info` / `image_info`. Each fills every
required field with a fixed, valid value (fresh ids and times, as the models do) and validates
the lot through the real `schemas.events` model, so a keyword may be a model or a plain dict.
The time-pinned events of a media's whole life, for lake tests, are `synthetic.lake`'s.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.events import (
    BrandCheck,
    Generation,
    MediaAnalysis,
    MediaGenerated,
    MediaInfo,
    MediaResult,
    MediaUploaded,
    SourceRef,
)
from schemas.fields import utcnow
from schemas.ids import uuid7
from schemas.profiles import BrandColour, BrandProfile

PRODUCER = "test"
CHECKS_VERSION = "c/1"
M = TypeVar("M", bound=BaseModel)


def uploaded_fields(**overrides: Any) -> dict[str, Any]:
    """The fields of a valid upload, unvalidated: for tests that feed edge values to a model."""
    return {
        "media_id": uuid7(),
        "producer": PRODUCER,
        "object_key": "media/x",
        "sha256": "0" * 64,
        "size_bytes": 1,
        "content_type": "video/mp4",
        "media_kind": "video",
    } | overrides


def uploaded(**overrides: Any) -> MediaUploaded:
    """An accepted upload of a one-byte video, without brand or platforms."""
    return MediaUploaded.model_validate(uploaded_fields(**overrides))


def generated(**overrides: Any) -> MediaGenerated:
    """A generated asset: the fields of `uploaded` and how it was made."""
    made = Generation(prompt="a generated test asset", model="test-model")
    return MediaGenerated.model_validate(uploaded_fields(generation=made) | overrides)


def source(event: MediaUploaded | MediaGenerated | None = None, **overrides: Any) -> SourceRef:
    """What a derived event answers: `event` (accepted when it occurred), else a fresh upload id
    accepted now."""
    if event is None:
        fields: dict[str, Any] = {
            "event_id": uuid7(),
            "schema_id": "reelscope.media.uploaded/1",
            "accepted_at": utcnow(),
        }
    else:
        fields = {
            "event_id": event.event_id,
            "schema_id": event.schema_id,
            "accepted_at": event.occurred_at,
            "brand_id": event.brand_id,
        }
    return SourceRef.model_validate(fields | overrides)


def _answer(model: type[M], overrides: dict[str, Any], **defaults: Any) -> M:
    """`model`, done, for a fresh media id and `source()` unless `overrides` name them."""
    fields = {"media_id": uuid7(), "producer": PRODUCER, "status": "done", **defaults}
    if "source" not in overrides:
        fields["source"] = source()
    return model.model_validate(fields | overrides)


def brand_check(**overrides: Any) -> BrandCheck:
    """A done brand check of a fresh `source()`, without verdict or checks."""
    return _answer(BrandCheck, overrides, checks_version=CHECKS_VERSION)


def analysis(**overrides: Any) -> MediaAnalysis:
    """A done analysis of a fresh `source()` by the local analyzer, with nothing measured."""
    return _answer(MediaAnalysis, overrides, analyzer="local")


def result(check: BrandCheck, analysis: MediaAnalysis, **overrides: Any) -> MediaResult:
    """The done result that joins `check` and `analysis`, with the check's verdict and score."""
    return MediaResult.model_validate(
        {
            "media_id": check.media_id,
            "producer": PRODUCER,
            "source": check.source,
            "status": "done",
            "verdict": check.verdict,
            "score": check.score,
            "brand_check": check,
            "analysis": analysis,
        }
        | overrides
    )


def profile(**overrides: Any) -> BrandProfile:
    """Version 1 of brand `acme`: red and white, every other rule at its default."""
    return BrandProfile.model_validate(
        {
            "brand_id": "acme",
            "version": 1,
            "name": "Acme",
            "palette": [BrandColour(hex="#E4002B"), BrandColour(hex="#FFFFFF")],
        }
        | overrides
    )


def video_info(
    width: int = 1080,
    height: int = 1920,
    seconds: float = 30.0,
    fps: float = 30.0,
    mb: float = 40.0,
    audio: bool = True,
    **overrides: Any,
) -> MediaInfo:
    """What the probe finds in an mp4 clip `seconds` long and `mb` MiB big (`size_bytes` among
    `overrides` wins over `mb`)."""
    return MediaInfo.model_validate(
        {
            "kind": "video",
            "container": "mp4",
            "width": width,
            "height": height,
            "duration_s": seconds,
            "fps": fps,
            "has_audio": audio,
            "size_bytes": int(mb * 2**20),
        }
        | overrides
    )


def image_info(
    width: int = 1080, height: int = 1080, mb: float = 1.0, **overrides: Any
) -> MediaInfo:
    """What the probe finds in a JPEG still `mb` MiB big (`size_bytes` wins over `mb`)."""
    return MediaInfo.model_validate(
        {
            "kind": "image",
            "container": "jpeg",
            "width": width,
            "height": height,
            "size_bytes": int(mb * 2**20),
        }
        | overrides
    )
