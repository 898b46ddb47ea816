"""Request bodies streamed to a temp file while hashing and counting, with a hard size cap.

Starlette's `request.form()` spools file parts without a cap, so bodies are parsed here from
`request.stream()` with python-multipart's streaming parser. Memory stays flat (one chunk plus
small form fields); the cap is enforced while the bytes arrive (413), on the whole body (a
preamble or epilogue around the parts counts too), and the temp file is removed on every error.
A body that stops arriving (`api.body_idle_timeout_s`) or takes too long in all
(`api.body_timeout_s`) is refused with 408, so a slow client cannot hold a request for ever.
Callers own the returned `Received` and must call `discard()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from fastapi import Request
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from api.errors import ApiError

FORM_OVERHEAD = 64 * 1024  # bytes allowed on top of the file part: boundaries, headers, fields
MAX_FIELDS = 32
MAX_FIELD_BYTES = 64 * 1024


@dataclass
class Received:
    """A body on local disk: its sha256, size, client filename and the other form fields."""

    path: Path
    sha256: str
    size: int
    filename: str | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


UPLOAD_HINT = "send a smaller file or ask an operator to raise REELSCOPE_LIMITS__MAX_UPLOAD_BYTES"


def too_large(limit: int, what: str = "the file", hint: str = UPLOAD_HINT) -> ApiError:
    return ApiError(413, "too_large", f"{what} is larger than the limit of {limit} bytes", hint)


def _json_too_large(limit: int) -> ApiError:
    return too_large(limit, "the JSON body", f"send at most {limit} bytes of JSON")


def refuse_declared_length(
    request: Request, limit: int, allowance: int = 0, refusal: ApiError | None = None
) -> None:
    """Refuse before reading when Content-Length already says the body is over the cap."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + allowance:
        raise refusal or too_large(limit)


def _too_slow(why: str) -> ApiError:
    return ApiError(408, "body_timeout", f"the request body {why}", "send the body without pauses")


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks, refusing (408) a body that pauses or lasts too long."""
    api = request.app.state.runtime.settings.api
    idle_s, total_s = api.body_idle_timeout_s, api.body_timeout_s
    deadline = time.monotonic() + total_s
    too_long = f"took longer than {total_s:g} s"
    stream = request.stream().__aiter__()
    while True:
        wait = min(idle_s, deadline - time.monotonic())
        if wait <= 0:
            raise _too_slow(too_long)
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), wait)
        except StopAsyncIteration:
            return
        except TimeoutError:
            late = time.monotonic() >= deadline
            raise _too_slow(too_long if late else f"paused for more than {idle_s:g} s") from None
        yield chunk


def _malformed(why: str) -> ApiError:
    return ApiError(
        400,
        "malformed_body",
        f"the multipart body is malformed: {why}",
        "send multipart/form-data with the media in a part named 'file'",
    )


class _Spool:
    """A temp file that hashes and counts what is written, refusing to pass `limit`."""

    def __init__(self, folder: Path, limit: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix="upload-")
        self.path = Path(name)
        self.fh: IO[bytes] = os.fdopen(fd, "wb")
        self.limit = limit
        self.size = 0
        self.hash = hashlib.sha256()
        self.pending: list[bytes] = []

    def take(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.hash.update(data)
        self.pending.append(data)

    async def flush(self) -> None:
        if self.pending:
            chunk, self.pending = b"".join(self.pending), []
            await asyncio.to_thread(self.fh.write, chunk)

    def close(self) -> None:
        self.fh.close()

    def abort(self) -> None:
        self.fh.close()
        self.path.unlink(missing_ok=True)


class _Form:
    """Callbacks for MultipartParser: the `file` part goes to a spool, the rest to fields."""

    def __init__(self, spool: _Spool, file_field: str) -> None:
        self.spool = spool
        self.file_field = file_field
        self.filename: str | None = None
        self.fields: dict[str, list[str]] = {}
        self.file_seen = False
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._name = ""
        self._to_file = False
        self._buf = bytearray()
        self._count = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers, self._buf, self._to_file = {}, bytearray(), False
        self._count += 1
        if self._count > MAX_FIELDS + 1:
            msg = f"more than {MAX_FIELDS} form fields"
            raise _malformed(msg)

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._hname.lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name != self.file_field:
            return
        if self.file_seen:
            msg = f"more than one '{self.file_field}' part"
            raise _malformed(msg)
        self.file_seen, self._to_file = True, True
        raw = options.get(b"filename")
        if raw:
            name = PurePosixPath(raw.decode("utf-8", "replace").replace("\\", "/")).name
            self.filename = name[:255] or None

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._to_file:
            self.spool.take(data[start:end])
            return
        self._buf += data[start:end]
        if len(self._buf) > MAX_FIELD_BYTES:
            msg = f"field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes"
            raise _malformed(msg)

    def _part_end(self) -> None:
        if not self._to_file:
            self.fields.setdefault(self._name, []).append(self._buf.decode("utf-8", "replace"))

    def _end(self) -> None:
        self.ended = True


def _boundary(request: Request) -> bytes:
    ctype, options = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(
            415,
            "unsupported_body",
            "the body must be multipart/form-data with a boundary",
            "send the media as a multipart part named 'file'",
        )
    return options[b"boundary"]


async def receive_multipart(
    request: Request, *, folder: Path, limit: int, file_field: str = "file"
) -> Received:
    """Stream a multipart body: the file part to a temp file (capped), other parts to fields."""
    refuse_declared_length(request, limit, FORM_OVERHEAD)
    boundary = _boundary(request)
    spool = _Spool(folder, limit)
    form = _Form(spool, file_field)
    body_cap, seen = limit + FORM_OVERHEAD, 0
    try:
        parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
        async for chunk in body_chunks(request):
            seen += len(chunk)
            if seen > body_cap:  # the file part fits, but the parts around it do not
                raise too_large(
                    limit,
                    "the body",
                    f"send the file with at most {FORM_OVERHEAD} "
                    "bytes of form fields and boundaries around it",
                )
            parser.write(chunk)
            await spool.flush()
        if not form.ended:
            msg = "the body ended before the closing boundary"
            raise _malformed(msg)
        if not form.file_seen:
            raise ApiError(
                422,
                "invalid_request",
                f"no '{file_field}' part in the form",
                f"attach the media as a multipart part named '{file_field}'",
                fields=[{"field": file_field, "message": "missing"}],
            )
    except FormParserError as e:
        spool.abort()
        raise _malformed(str(e)) from e
    except BaseException:
        spool.abort()
        raise
    spool.close()
    return Received(spool.path, spool.hash.hexdigest(), spool.size, form.filename, form.fields)


async def receive_raw(request: Request, *, folder: Path, limit: int) -> Received:
    """Stream a raw body (not multipart) to a temp file, capped at `limit` bytes."""
    refuse_declared_length(request, limit)
    spool = _Spool(folder, limit)
    try:
        async for chunk in body_chunks(request):
            spool.take(chunk)
            await spool.flush()
    except BaseException:
        spool.abort()
        raise
    spool.close()
    return Received(spool.path, spool.hash.hexdigest(), spool.size)


async def read_small(request: Request, *, limit: int) -> bytes:
    """Read a small body (JSON) into memory, refusing more than `limit` bytes (413)."""
    refuse_declared_length(request, limit, refusal=_json_too_large(limit))
    body = bytearray()
    async for chunk in body_chunks(request):
        body += chunk
        if len(body) > limit:
            raise _json_too_large(limit)
    return bytes(body)
