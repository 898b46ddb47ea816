"""`/v1/media`: upload media (multipart, streamed), read one asset's status, list assets."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from api import forms, intake, status
from api.auth import Principal
from api.deps import BrokerReady, IdempotencyKey, Reader, RuntimeDep, Uploader
from api.models import Accepted, MediaPage, MediaState, MediaStatus, error_responses
from api.runtime import Runtime
from api.uploads import Received, receive_multipart
from schemas.fields import BrandId
from schemas.reviews import GateState

router = APIRouter(prefix="/v1/media", tags=["media"])

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "brand_id": {"type": "string"},
                        "platforms": {"type": "string", "description": "comma-separated"},
                        "labels": {"type": "string", "description": "a JSON object"},
                    },
                }
            }
        },
    }
}


async def receive_form(
    request: Request, rt: Runtime, caller: Principal, *, generation: bool = False
) -> tuple[Received, intake.Submission]:
    """The file is on disk before its form is judged, so a refused form must not leave it behind."""
    received = await receive_multipart(
        request, folder=rt.upload_dir, limit=rt.settings.limits.max_upload_bytes
    )
    try:
        sub = forms.submission(received, generation=generation)
        return received, replace(sub, brand_id=caller.upload_brand(sub.brand_id))
    except BaseException:
        received.discard()
        raise


async def accept_upload(
    rt: Runtime,
    response: Response,
    received: Received,
    sub: intake.Submission,
    *,
    caller: Principal,
    idempotency_key: str | None,
) -> Accepted:
    """Both intake routes answer alike: 202 with the status URL, the temporary file gone."""
    try:
        rt.quotas.spend_bytes(caller, received.size)
        media_id = await intake.accept(
            rt, received, sub, caller=caller.name, idempotency_key=idempotency_key
        )
    finally:
        received.discard()
    url = f"/v1/media/{media_id}"
    response.headers["Location"] = url
    return Accepted(media_id=media_id, status_url=url)


@router.post(
    "",
    status_code=202,
    dependencies=[BrokerReady],
    openapi_extra=MULTIPART_BODY,
    responses=error_responses(400, 401, 403, 409, 413, 415, 422, 503),
)
async def upload_media(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    caller: Uploader,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Upload an image or video; 202 once it is stored and its event acknowledged.

    `brand_id` must be one of the key's brands; a key with one brand may leave it out."""
    received, sub = await receive_form(request, rt, caller)
    return await accept_upload(
        rt, response, received, sub, caller=caller, idempotency_key=idempotency_key
    )


@router.get("/{media_id}", responses=error_responses(401, 403, 404, 422, 503))
async def get_media(media_id: str, rt: RuntimeDep, caller: Reader) -> MediaStatus:
    """Return where one asset stands: processing, done (with its verdict) or failed.

    404 for an unknown id and for another tenant's media alike."""
    return await status.media_status(rt, status.parse_media_id(media_id), caller)


@router.get("", responses=error_responses(401, 403, 422, 503))
async def list_media(
    rt: RuntimeDep,
    caller: Reader,
    brand_id: Annotated[BrandId | None, Query()] = None,
    status_: Annotated[MediaState | None, Query(alias="status")] = None,
    since: Annotated[AwareDatetime | None, Query(description="RFC 3339, with a time zone")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    decision: Annotated[GateState | None, Query(description="the gate's state")] = None,
) -> MediaPage:
    """List assets oldest first (pass `next` as `after` to page on), lake plus latest results.

    Only the key's brands: `brand_id` narrows to one of them (403 for another's)."""
    brands = caller.brand_filter(brand_id)
    cursor = status.parse_media_id(after, "after") if after else None
    return await status.list_media(
        rt, brands=brands, status=status_, since=since, limit=limit, after=cursor, decision=decision
    )
