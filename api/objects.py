"""References to objects already in the bucket: validated strictly, then fetched to a temp file.

A reference is a relative key under an allowed prefix, or `s3://<this bucket>/<that key>`.
URLs of anything else, other buckets, `.`/`..` segments, backslashes and percent-encoding are
refused (422): the API never fetches from a location a client names (no SSRF). A key bound to
brands may name `generated/<one of its brands>/...` and ledger media of its brands only; another
tenant's ledger media is "no object", as a missing one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from pathlib import Path

from api.auth import Principal
from api.errors import BUCKET, STORE_ERRORS, ApiError, invalid, unavailable
from api.runtime import Runtime
from api.uploads import Received, too_large
from processors import ledger
from processors.errors import ObjectNotFound
from processors.keys import GENERATED_PREFIX, LEDGER_PREFIX, REFERABLE_PREFIXES
from processors.storage import check_key

_SAFE = re.compile(r"^[A-Za-z0-9._\-/]+$")
_HINT = "use a key like 'generated/2026/01/02/clip.mp4' (or s3://<this bucket>/<key>)"


def _bad(message: str) -> ApiError:
    return invalid(message, field="object_key", hint=_HINT)


def bucket_key(raw: str, store_url: str) -> str:
    """Turn a client's reference into a key of our bucket, or refuse it (422)."""
    key = raw
    if raw.startswith("s3://"):
        own = store_url.rstrip("/") + "/"
        if not store_url.startswith("s3://") or not raw.startswith(own):
            msg = "the reference names another bucket"
            raise _bad(msg)
        key = raw[len(own) :]
    if not _SAFE.match(key):
        msg = "the key contains characters that are not allowed (URLs, %, \\, spaces, ...)"
        raise _bad(msg)
    try:
        check_key(key)
    except ValueError as e:
        msg = "the key has empty, '.' or '..' segments"
        raise _bad(msg) from e
    if not key.startswith(REFERABLE_PREFIXES):
        msg = f"the key must start with {' or '.join(REFERABLE_PREFIXES)}"
        raise _bad(msg)
    return key


def _ledger_brand(rt: Runtime, key: str) -> str | None:
    """The brand of a ledger object (blocking); None for an object without an event."""
    try:
        return ledger.stored_brand(rt.store, key)
    except ObjectNotFound:
        return None


async def require_owner(rt: Runtime, key: str, caller: Principal) -> None:
    """Refuse a reference to an object that is not of the caller's brands."""
    if caller.brands is None:
        return
    if key.startswith(GENERATED_PREFIX):
        folder = key[len(GENERATED_PREFIX) :].split("/", 1)[0]
        if folder not in caller.brands:
            mine = " or ".join(f"{GENERATED_PREFIX}{b}/" for b in sorted(caller.brands))
            raise ApiError(
                403,
                "forbidden",
                f"this key may reference generated objects under {mine} only",
                "write the generator's output under your brand's folder",
            )
        return
    if key.startswith(LEDGER_PREFIX):
        try:
            brand = await asyncio.to_thread(_ledger_brand, rt, key)
        except STORE_ERRORS as e:
            rt.metrics.storage_failures.inc()
            raise unavailable(BUCKET) from e
        if brand not in caller.brands:
            msg = f"no object {key!r} in the bucket"
            raise _bad(msg)


def _fetch(rt: Runtime, key: str, folder: Path) -> Received:
    """Download the object and hash it; blocking (run in a thread)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix="object-")
    path = Path(name)
    try:
        with open(fd, "wb"):
            pass
        rt.store.download(key, path)
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path, digest.hexdigest(), size, filename=key.rsplit("/", 1)[-1])


async def fetch(rt: Runtime, key: str) -> Received:
    """Fetch a referenced object: 422 if missing or empty, 413 if over the upload cap (asked of
    the bucket before a byte is downloaded), 503 on failure."""
    limit = rt.settings.limits.max_upload_bytes
    try:
        size = await asyncio.to_thread(rt.store.size, key)
        if size > limit:
            raise too_large(limit)
        if size == 0:
            msg = f"the object {key!r} is empty"
            raise _bad(msg)
        received = await asyncio.to_thread(_fetch, rt, key, rt.upload_dir)
    except ObjectNotFound as e:
        msg = f"no object {key!r} in the bucket"
        raise _bad(msg) from e
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e
    if received.size > limit:  # it grew between the two calls
        received.discard()
        raise too_large(limit)
    return received
