"""`GET /v1/media/{media_id}/evidence.png`: the brand check's most telling frame, annotated.

The worker cannot ship frames on Kafka, so the API renders the image on request: it fetches
the media from the bucket, samples it as the worker does, takes the frame nearest the first
violation (else the logo's first sighting, else the middle), draws the evidence on it, and
caches the PNG in the bucket at `evidence/<media_id>.png`. Decoding runs in a thread; ffmpeg
runs with the configured limits.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from api import status
from api.auth import Principal
from api.deps import Reader, RuntimeDep
from api.errors import BUCKET, STORE_ERRORS, ApiError, unavailable
from api.models import error_responses
from api.runtime import Runtime
from processors.brand.evidence import render_evidence, telling_time
from processors.brand.profiles import load_profile
from processors.errors import MediaError, ObjectNotFound
from processors.keys import evidence_key, media_key
from processors.media import probe, sample_frames
from schemas.events import BrandCheck
from schemas.profiles import BrandProfile

router = APIRouter(prefix="/v1/media", tags=["media"])
SAMPLED_FRAMES = 8  # as the worker samples, so the frame is one the checks saw
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "the annotated frame"}
}


def _not_found(media_id: UUID, why: str) -> ApiError:
    hint = "wait until GET /v1/media/{id} shows status done, then ask again"
    return ApiError(404, "not_found", f"no evidence for media {media_id}: {why}", hint)


async def _brand_check(rt: Runtime, media_id: UUID, caller: Principal) -> BrandCheck:
    """The asset's brand check, or 404 (unknown, another tenant's, still processing) / 409."""
    state = await status.media_status(rt, media_id, caller)
    if state.status == "failed":
        msg = f"media {media_id} failed: {state.error or 'see GET /v1/media/{id}'}"
        raise ApiError(409, "media_failed", msg, "a failed asset has no evidence to show")
    if state.brand_check is None:
        raise _not_found(media_id, "its brand check is not done yet")
    check = BrandCheck.model_validate(state.brand_check)
    if check.status != "done":
        msg = f"media {media_id}'s brand check failed: {check.error}"
        raise ApiError(409, "media_failed", msg, "a failed asset has no evidence to show")
    return check


def _render(rt: Runtime, media_id: UUID, check: BrandCheck, profile: BrandProfile | None) -> bytes:
    """Fetch, sample and draw; blocking (run it in a thread)."""
    limits = rt.settings.limits
    with tempfile.TemporaryDirectory(prefix="reelscope-evidence-") as tmp:
        path = Path(tmp) / "media"
        rt.store.download(media_key(media_id), path)
        info = probe(path, limits)
        frames = sample_frames(path, info, SAMPLED_FRAMES, limits)
    when = telling_time(check)
    if when is None:
        frame = frames[len(frames) // 2]
    else:
        frame = min(frames, key=lambda f: abs(f.t_s - when))
    return render_evidence(frame.image, check, profile)


def _cached_or_rendered(rt: Runtime, media_id: UUID, check: BrandCheck) -> bytes:
    key = evidence_key(media_id)
    if rt.store.exists(key):
        return rt.store.get_bytes(key)
    brand_id = check.source.brand_id
    profile = load_profile(rt.store, brand_id) if brand_id else None
    png = _render(rt, media_id, check, profile)
    rt.metrics.evidence_renders.inc()
    rt.store.put_bytes(key, png)
    return png


async def evidence_png(rt: Runtime, media_id: UUID, caller: Principal) -> bytes:
    """The annotated PNG of a media the caller may see (404 otherwise), rendered once."""
    check = await _brand_check(rt, media_id, caller)
    try:
        return await rt.evidence.run(
            media_id, lambda: rt.heavy.run(_cached_or_rendered, rt, media_id, check)
        )
    except ObjectNotFound as e:
        raise _not_found(media_id, "its media object is no longer in the bucket") from e
    except MediaError as e:
        msg = f"media {media_id} could not be decoded for evidence: {e}"
        raise ApiError(409, "media_failed", msg, "a failed asset has no evidence to show") from e
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e


@router.get(
    "/{media_id}/evidence.png",
    response_class=Response,
    responses={**PNG, **error_responses(401, 403, 404, 409, 422, 503)},
)
async def get_evidence(media_id: str, rt: RuntimeDep, caller: Reader) -> Response:
    """The most telling frame with the logo box, the platforms' safe zones and palette swatches."""
    png = await evidence_png(rt, status.parse_media_id(media_id), caller)
    return Response(content=png, media_type="image/png")
