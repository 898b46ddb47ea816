"""The per-media join: a result is ready once both the brand check and the analysis are in."""

from __future__ import annotations

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
    check: BrandCheck | None = None
    analysis: MediaAnalysis | None = None
    tokens: list[Token] = field(default_factory=list)


@dataclass
class Joiner(Generic[Token]):
    """Pairs halves by media id; `tokens` (e.g. unacked messages) travel with each pair.

    A half that arrives again (a replay) replaces the earlier one and both tokens are kept, so
    the caller can acknowledge every message the result answers.
    """

    producer: str
    _slots: dict[UUID, _Slot[Token]] = field(default_factory=dict)

    def add(
        self, half: BrandCheck | MediaAnalysis, token: Token
    ) -> tuple[MediaResult, list[Token]] | None:
        slot = self._slots.setdefault(half.media_id, _Slot())
        slot.tokens.append(token)
        if isinstance(half, BrandCheck):
            slot.check = half
        else:
            slot.analysis = half
        if slot.check is None or slot.analysis is None:
            return None
        del self._slots[half.media_id]
        return combine(slot.check, slot.analysis, self.producer), slot.tokens

    def __len__(self) -> int:
        return len(self._slots)
