"""Answers already paid for, keyed by what determines them, so a replay costs nothing.

The key is sha256 over the media bytes' sha256, the model id, `PROMPT_VERSION`, the answer-changing
options and the rendered prompt (which carries the target platforms and any generation prompt).
`StoreCache` keeps entries as JSON under `cache/gemini/<key>.json` and survives restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from processors.errors import ObjectNotFound, StorageError
from processors.keys import GEMINI_CACHE_PREFIX, gemini_cache_key
from processors.storage import Store
from schemas.events import AnalysisStatus, ContentAnalysis, Usage


class CachedAnalysis(BaseModel):
    """What a later identical request needs to answer without calling Gemini."""

    model_config = ConfigDict(frozen=True)

    status: AnalysisStatus
    error: str | None = None
    model: str
    prompt_version: str
    content: ContentAnalysis | None = None
    usage: Usage = Usage()


class AnalysisCache(Protocol):
    async def get(self, key: str) -> CachedAnalysis | None: ...

    async def put(self, key: str, entry: CachedAnalysis) -> None: ...


def cache_key(
    media_sha256: str, model: str, prompt_version: str, params: dict[str, Any], prompt: str
) -> str:
    """Name an answer by everything that determines it."""
    material = json.dumps(
        {
            "media": media_sha256,
            "model": model,
            "prompt_version": prompt_version,
            "params": params,
            "prompt": hashlib.sha256(prompt.encode()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """Hash a file in 1 MB blocks (blocking: run it in a thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class MemoryCache:
    """A dict: per process, for tests and the embedded default."""

    entries: dict[str, CachedAnalysis] = field(default_factory=dict)

    async def get(self, key: str) -> CachedAnalysis | None:
        return self.entries.get(key)

    async def put(self, key: str, entry: CachedAnalysis) -> None:
        self.entries[key] = entry


@dataclass
class StoreCache:
    """JSON objects in the bucket; an unreadable entry counts as a miss, not an error."""

    store: Store
    prefix: str = GEMINI_CACHE_PREFIX

    def _key(self, key: str) -> str:
        return gemini_cache_key(key, self.prefix)

    async def get(self, key: str) -> CachedAnalysis | None:
        try:
            raw = await asyncio.to_thread(self.store.get_bytes, self._key(key))
        except ObjectNotFound:
            return None
        except StorageError:
            return None  # the bucket is down: paying twice beats stalling
        try:
            return CachedAnalysis.model_validate_json(raw)
        except ValidationError:
            return None

    async def put(self, key: str, entry: CachedAnalysis) -> None:
        data = entry.model_dump_json().encode()
        try:
            await asyncio.to_thread(self.store.put_bytes, self._key(key), data)
        except StorageError:
            return  # a lost cache entry costs one more call later, never a result
