"""Large media through the Gemini Files API: upload, wait until ACTIVE, always delete after use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from google import genai
from google.genai import types

from processors.analyzers.gemini.options import GeminiOptions
from processors.analyzers.gemini.resilience import Clock, Retrier
from processors.errors import AnalyzerUnavailable

log = logging.getLogger(__name__)


@dataclass
class FilesApi:
    """Uploads under the analyzer's retries and breaker; deletion is best effort."""

    client: Callable[[], genai.Client]
    retrier: Retrier
    options: GeminiOptions
    clock: Clock
    timeout_s: float

    @asynccontextmanager
    async def uploaded(self, path: Path, mime: str, display_name: str) -> AsyncIterator[types.File]:
        """Yield the file once it left PROCESSING (ACTIVE or FAILED); delete it on the way out."""
        file = await self._upload(path, mime, display_name)
        try:
            yield await self._wait_active(file)
        finally:
            await self._delete(file)

    async def _upload(self, path: Path, mime: str, display_name: str) -> types.File:
        config = types.UploadFileConfig(mime_type=mime, display_name=display_name)
        return await self.retrier.call(
            "files.upload", lambda: self.client().aio.files.upload(file=path, config=config)
        )

    async def _wait_active(self, file: types.File) -> types.File:
        """Poll `files.get` until the upload leaves PROCESSING, within `file_active_timeout_s`."""
        deadline = self.clock.monotonic() + self.options.file_active_timeout_s
        name = file.name or ""
        while file.state == types.FileState.PROCESSING:
            if self.clock.monotonic() >= deadline:
                waited = self.options.file_active_timeout_s
                msg = f"uploaded file {name} still PROCESSING after {waited:.0f}s"
                raise AnalyzerUnavailable(msg)
            await asyncio.sleep(self.options.file_poll_interval_s)
            file = await self.retrier.call(
                "files.get",
                lambda: self.client().aio.files.get(name=name),
                timeout_s=self.timeout_s,
            )
        return file

    async def _delete(self, file: types.File) -> None:
        """Delete an upload; failure only logs (Gemini drops files after 48 h anyway)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.client().aio.files.delete(name=file.name or "")
        except Exception as e:  # cleanup must never mask the result
            log.warning("could not delete Gemini file %s: %s", file.name, e)
