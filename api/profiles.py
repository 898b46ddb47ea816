"""Brand profiles: versioned in the bucket (the source of truth), then published to the topic.

Every change writes a new version (previous + 1) to `brands/<id>/profile.json` and publishes
it to `reelscope.brands.v1` keyed by brand id (compacted: the latest version wins). Changes to
one brand are serialised within a process; the bucket is written before the topic, so a failed
publish (503) is repaired by the next change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.errors import BROKER, BUCKET, STORE_ERRORS, ApiError, unavailable
from api.publisher import BrokerUnavailable
from api.runtime import Runtime
from api.uploads import Received
from processors.brand.profiles import load_profile
from processors.brand.templates import MAX_LOGO_SIDE, LogoDecodeError, decode_logo
from processors.errors import MediaError
from processors.keys import logo_key, profile_key
from processors.media import sniff
from schemas.fields import utcnow
from schemas.profiles import BrandProfile, BrandRules
from schemas.topics import BRANDS

LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


MAX_LOGOS = 8  # each logo is searched on every sampled frame


def not_found(brand_id: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no brand {brand_id!r}",
        f"create it with PUT /v1/brands/{brand_id} (a BrandRules body)",
    )


async def read(rt: Runtime, brand_id: str) -> BrandProfile | None:
    try:
        return await asyncio.to_thread(load_profile, rt.store, brand_id)
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e


async def _save(rt: Runtime, profile: BrandProfile) -> BrandProfile:
    data = profile.to_bytes()
    try:
        await asyncio.to_thread(rt.store.put_bytes, profile_key(profile.brand_id), data)
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e
    try:
        await rt.publisher.publish(BRANDS, profile.brand_id.encode(), data)
    except BrokerUnavailable as e:
        rt.metrics.publish_failures.labels(BRANDS).inc()
        raise unavailable(BROKER) from e
    return profile


async def put_rules(rt: Runtime, brand_id: str, rules: BrandRules) -> BrandProfile:
    """Store the rules as the next version; logos are kept."""
    async with rt.locks.hold(f"brand:{brand_id}"):
        current = await read(rt, brand_id)
        profile = BrandProfile.model_validate(
            {
                **rules.model_dump(),
                "brand_id": brand_id,
                "version": current.version + 1 if current else 1,
                "logos": current.logos if current else [],
                "updated_at": utcnow(),
            }
        )
        return await _save(rt, profile)


def _invalid_logo(what: str) -> ApiError:
    return ApiError(
        422,
        "invalid_logo",
        f"a logo must be a PNG, JPEG or WebP image, not {what}",
        "upload the logo as a PNG (with transparency) or a JPEG/WebP image",
        fields=[{"field": "file", "message": "not a PNG, JPEG or WebP image"}],
    )


async def logo_extension(rt: Runtime, received: Received) -> str:
    """Sniff and decode the logo, as every check will; return its file extension, or refuse
    (422) anything the checks could not use: not PNG/JPEG/WebP, a declared size past
    `MAX_LOGO_SIDE` (found in the header, before any pixel is allocated), no visible mark."""
    try:
        content_type, _ = await asyncio.to_thread(sniff, received.path)
    except MediaError as e:
        what = "an unknown type"
        raise _invalid_logo(what) from e
    ext = LOGO_TYPES.get(content_type)
    if ext is None:
        raise _invalid_logo(content_type)
    try:
        await rt.heavy.run(_decode_file, received.path)
    except LogoDecodeError as e:
        raise ApiError(
            422,
            "invalid_logo",
            str(e),
            f"upload the logo as a PNG, JPEG or WebP of at most {MAX_LOGO_SIDE} px a side, "
            "with the mark visible (transparency or a plain backdrop around it)",
            fields=[{"field": "file", "message": str(e)}],
        ) from e
    return ext


def _decode_file(path: Path) -> None:
    decode_logo(path.read_bytes())


async def put_logo(
    rt: Runtime, brand_id: str, received: Received, *, append: bool = False
) -> BrandProfile:
    """Store the logo by content hash; a new version whose logos are it alone, or (append)
    the current ones plus it (a brand may have a colour, a white and a mono mark)."""
    ext = await logo_extension(rt, received)
    key = logo_key(brand_id, received.sha256, ext)
    async with rt.locks.hold(f"brand:{brand_id}"):
        current = await read(rt, brand_id)
        if current is None:
            raise not_found(brand_id)
        try:
            await asyncio.to_thread(rt.store.put_file, key, received.path)
        except STORE_ERRORS as e:
            rt.metrics.storage_failures.inc()
            raise unavailable(BUCKET) from e
        logos = [*dict.fromkeys([*current.logos, key])] if append else [key]
        if len(logos) > MAX_LOGOS:
            raise ApiError(
                422,
                "too_many_logos",
                f"brand {brand_id!r} has {MAX_LOGOS} logos, the most a brand may have",
                "replace the logos with PUT /v1/brands/{brand_id}/logo, then add variants",
            )
        update = {"version": current.version + 1, "logos": logos, "updated_at": utcnow()}
        return await _save(rt, current.model_copy(update=update))
