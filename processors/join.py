"""The per-media join: a result is ready once both the brand check and the analysis are in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID

from schemas.events import BrandCheck, MediaAnalysis, MediaResult

Token = TypeVar("Token")


def combine(check: BrandCheck, analysis: MediaAnalysis, producer: str) -> MediaResult:
    """Join the two halves; the asset fails when either stage could not read it."""
    errors = list(dict.fromkeys(e for e in (check.error, analysis.error) if e))
    failed = check.status == "failed" or analysis.status == "failed"
    return MediaResult(
        media_id=check.media_id,
        producer=producer,
        source=check.source,
        status="failed" if failed else "done",
        verdict=None if check.status == "failed" else check.verdict,
        score=check.score,
        error="; ".join(errors) or None,
        brand_check=check,
        analysis=analysis,
    )


@dataclass
class _Slot(Generic[Token]):
    since: float
    check: BrandCheck | None = None
    analysis: MediaAnalysis | None = None
    tokens: list[Token] = field(default_factory=list)

    @property
    def missing(self) -> str:
        return "analysis" if self.analysis is None else "brand check"


@dataclass(frozen=True)
class Expired(Generic[Token]):
    """A half that waited longer than the TTL for its other half (`missing`)."""

    media_id: UUID
    missing: str
    waited_s: float
    tokens: list[Token]


@dataclass
class Joiner(Generic[Token]):
    """Pairs halves by media id; `tokens` (e.g. unacked messages) travel with each pair.

    A half that arrives again (a replay) replaces the earlier one and both tokens are kept, so
    the caller can acknowledge every message the result answers. A half whose other half never
    comes would hold its tokens, and so its partition's commits, for ever: `expire` hands back
    the slots older than `ttl_s`.
    """

    producer: str
    ttl_s: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _slots: dict[UUID, _Slot[Token]] = field(default_factory=dict)

    def add(
        self, half: BrandCheck | MediaAnalysis, token: Token
    ) -> tuple[MediaResult, list[Token]] | None:
        slot = self._slots.get(half.media_id)
        if slot is None:
            slot = self._slots[half.media_id] = _Slot(since=self.clock())
        slot.tokens.append(token)
        if isinstance(half, BrandCheck):
            slot.check = half
        else:
            slot.analysis = half
        if slot.check is None or slot.analysis is None:
            return None
        del self._slots[half.media_id]
        return combine(slot.check, slot.analysis, self.producer), slot.tokens

    def expire(self) -> list[Expired[Token]]:
        """Remove and return the slots that waited longer than the TTL, oldest first."""
        now = self.clock()
        old = [(m, s) for m, s in self._slots.items() if now - s.since > self.ttl_s]
        for media_id, _ in old:
            del self._slots[media_id]
        return [Expired(m, s.missing, now - s.since, s.tokens) for m, s in old]

    def __len__(self) -> int:
        return len(self._slots)
