"""The envelope every event carries; apart from `events` so that `reviews` can share it."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from schemas.fields import Model, ShortText, Uuid7, utcnow
from schemas.ids import uuid7


class Envelope(Model):
    """Fields every event carries; `schema` names the type and its version."""

    schema_id: ShortText = Field(alias="schema")
    event_id: Uuid7 = Field(default_factory=uuid7)
    media_id: Uuid7
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: ShortText = Field(min_length=1)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()
