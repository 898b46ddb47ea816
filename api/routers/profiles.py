"""`/v1/brands/{brand_id}`: versioned brand rules and the brand's logo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError

from api import profiles
from api.deps import Admin, BrandReader, BrokerReady, RuntimeDep
from api.errors import field_errors, invalid_fields
from api.models import error_responses
from api.runtime import Runtime
from api.uploads import read_small, receive_multipart, receive_raw
from schemas.profiles import BrandProfile, BrandRules

router = APIRouter(prefix="/v1/brands", tags=["brands"])

BrandIdPath = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="lower-case id, e.g. 'acme'")
]
LOGO_LIMIT = 10 * 1024 * 1024
RULES_LIMIT = 64 * 1024  # the bounded lists of BrandRules fit in a few kB

RULES_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BrandRules"}}},
    }
}

LOGO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.put(
    "/{brand_id}",
    dependencies=[BrokerReady],
    response_model_by_alias=True,
    openapi_extra=RULES_BODY,
    responses=error_responses(401, 403, 413, 422, 503),
)
async def put_brand(
    request: Request, brand_id: BrandIdPath, rt: RuntimeDep, caller: Admin
) -> BrandProfile:
    """Store new rules as the brand's next version (logos are kept) and publish it.

    The body is read here, up to `RULES_LIMIT` bytes (413 past it), after the key was checked:
    a framework-parsed body would be read whole, of any size, before anything refused it."""
    caller.require_brand(brand_id)
    try:
        rules = BrandRules.model_validate_json(await read_small(request, limit=RULES_LIMIT))
    except ValidationError as e:
        hint = 'send BrandRules as JSON (see /docs), e.g. {"name": "Acme"}'
        errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors()]
        raise invalid_fields(field_errors(errors), hint) from e
    return await profiles.put_rules(rt, brand_id, rules)


@router.get(
    "/{brand_id}", response_model_by_alias=True, responses=error_responses(401, 403, 404, 422)
)
async def get_brand(brand_id: BrandIdPath, rt: RuntimeDep, caller: BrandReader) -> BrandProfile:
    """Return the brand's current profile."""
    caller.require_brand(brand_id)
    profile = await profiles.read(rt, brand_id)
    if profile is None:
        raise profiles.not_found(brand_id)
    return profile


@router.put(
    "/{brand_id}/logo",
    dependencies=[BrokerReady],
    response_model_by_alias=True,
    openapi_extra=LOGO_BODY,
    responses=error_responses(401, 403, 404, 413, 422, 503),
)
async def put_logo(
    brand_id: BrandIdPath, request: Request, rt: RuntimeDep, caller: Admin
) -> BrandProfile:
    """Replace the brand's logo (PNG, JPEG or WebP; raw body or a multipart `file`)."""
    caller.require_brand(brand_id)
    return await _store_logo(brand_id, request, rt, append=False)


@router.post(
    "/{brand_id}/logos",
    dependencies=[BrokerReady],
    response_model_by_alias=True,
    openapi_extra=LOGO_BODY,
    responses=error_responses(401, 403, 404, 413, 422, 503),
)
async def add_logo(
    brand_id: BrandIdPath, request: Request, rt: RuntimeDep, caller: Admin
) -> BrandProfile:
    """Add a logo variant (e.g. white or mono) to the brand's logos; same body as PUT."""
    caller.require_brand(brand_id)
    return await _store_logo(brand_id, request, rt, append=True)


async def _store_logo(
    brand_id: str, request: Request, rt: Runtime, *, append: bool
) -> BrandProfile:
    """Receive a logo (raw body or multipart `file`) and store it as a new profile version."""
    if await profiles.read(rt, brand_id) is None:
        raise profiles.not_found(brand_id)
    limit = min(LOGO_LIMIT, rt.settings.limits.max_upload_bytes)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        received = await receive_multipart(request, folder=rt.upload_dir, limit=limit)
    else:
        received = await receive_raw(request, folder=rt.upload_dir, limit=limit)
    try:
        return await profiles.put_logo(rt, brand_id, received, append=append)
    finally:
        received.discard()
