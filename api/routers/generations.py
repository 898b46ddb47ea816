"""`/v1/generations`: a generated asset plus how it was made (prompt, model, seed, cost, parent)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from api import intake, objects
from api.auth import Principal
from api.deps import BrokerReady, IdempotencyKey, RuntimeDep, Uploader
from api.errors import field_errors, invalid_fields
from api.models import Accepted, GenerationRequest, error_responses
from api.routers.media import accept_upload, receive_form
from api.runtime import Runtime
from api.uploads import Received, read_small

router = APIRouter(prefix="/v1/generations", tags=["generations"])

JSON_LIMIT = 256 * 1024

BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/GenerationRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "generation"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "generation": {"type": "string", "description": "a Generation as JSON"},
                        "brand_id": {"type": "string"},
                        "platforms": {"type": "string", "description": "comma-separated"},
                        "labels": {"type": "string", "description": "a JSON object"},
                    },
                }
            },
        },
    }
}


async def _from_json(
    request: Request, rt: Runtime, caller: Principal
) -> tuple[Received, intake.Submission]:
    try:
        body = GenerationRequest.model_validate_json(await read_small(request, limit=JSON_LIMIT))
    except ValidationError as e:
        hint = "send a GenerationRequest as JSON (see /docs)"
        raise invalid_fields(field_errors(e.errors(), "body"), hint) from e
    brand_id = caller.upload_brand(body.brand_id)
    key = objects.bucket_key(body.object_key, rt.store.url)
    await objects.require_owner(rt, key, caller)
    received = await objects.fetch(rt, key)
    sub = intake.Submission(
        brand_id=brand_id,
        platforms=list(body.platforms),
        labels=dict(body.labels),
        generation=body.generation,
    )
    return received, sub


@router.post(
    "",
    status_code=202,
    dependencies=[BrokerReady],
    openapi_extra=BODY,
    responses=error_responses(400, 401, 403, 409, 413, 415, 422, 503),
)
async def register_generation(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    caller: Uploader,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Register a generated asset (in the bucket, or attached); 202 once its event is acked."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        received, sub = await receive_form(request, rt, caller, generation=True)
    else:
        received, sub = await _from_json(request, rt, caller)
    return await accept_upload(
        rt, response, received, sub, caller=caller, idempotency_key=idempotency_key
    )
