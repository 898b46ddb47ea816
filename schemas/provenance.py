"""What an asset says about its own making (C2PA Content Credentials, IPTC/XMP metadata), and
what it resembles (perceptual fingerprints, an earlier upload it duplicates).

Both travel in `reelscope.brand.check/1` as additive, optional fields: a check is where a
publishing gate looks, and the cross-checks they give are violations of that check. Unknowns
are null, never guessed: `trusted` is null when no trust anchors are configured.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from schemas.fields import (
    FEW_MAX,
    LIST_MAX,
    Diagnostic,
    Finite,
    Model,
    NonNegative,
    Phrase,
    Sha256Hex,
    ShortText,
)

Evidence = Literal["c2pa", "iptc", "generation_event", "label"]
ProvenanceCode = Literal[
    "provenance.ai_marker_missing", "provenance.ai_undeclared", "provenance.manifest_invalid"
]
Severity = Literal["fail", "warn", "off"]
PHash = Annotated[str, Field(max_length=16, pattern=r"^[0-9a-f]{16}$")]
ColourSignature = Annotated[str, Field(max_length=96, pattern=r"^[0-9a-f]{96}$")]
FRAMES_MAX = 128  # more than `worker.sample_frames` allows (120)


class C2paAction(Model):
    action: ShortText
    digital_source_type: Phrase | None = None
    software_agent: ShortText | None = None


class C2paIngredient(Model):
    title: Phrase | None = None
    relationship: ShortText | None = None
    format: ShortText | None = None


class C2paFacts(Model):
    """The active manifest, as the C2PA library read and validated it offline.

    `integrity` is about the bytes and the claim (hashes, signature): `invalid` means the file
    or its manifest was altered after signing. `trusted` is about who signed: whether the
    signing certificate chains to a configured trust anchor (null: no anchors configured)."""

    validation_state: ShortText | None = None  # the library's word: Invalid, Valid, Trusted
    integrity: Literal["valid", "invalid"]
    trusted: bool | None = None
    failures: list[ShortText] = Field(default_factory=list, max_length=LIST_MAX)
    signer: Phrase | None = None  # the signing certificate's common name
    issuer: Phrase | None = None
    claim_generator: Phrase | None = None
    actions: list[C2paAction] = Field(default_factory=list, max_length=LIST_MAX)
    ingredients: list[C2paIngredient] = Field(default_factory=list, max_length=LIST_MAX)


class Provenance(Model):
    """`ai_generated`: true if a marker in the file or the submission says so, false if the
    file carries provenance that says otherwise (a capture, an edit with no AI source type),
    null when nothing says either way. `evidence` names what the answer rests on."""

    ai_generated: bool | None = None
    evidence: list[Evidence] = Field(default_factory=list, max_length=FEW_MAX)
    c2pa: C2paFacts | None = None  # None: no manifest in the file
    digital_source_types: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    software: list[Phrase] = Field(default_factory=list, max_length=LIST_MAX)
    error: Diagnostic | None = None  # what could not be read (a malformed manifest, ...)


class Fingerprint(Model):
    """Per sampled frame: its time, pHash and a 4×4 CIELAB colour grid (pHash is blind to
    colour; the grid tells apart assets that share a layout in other colours)."""

    frame_s: list[NonNegative] = Field(default_factory=list, max_length=FRAMES_MAX)
    phash: list[PHash] = Field(default_factory=list, max_length=FRAMES_MAX)
    colour: list[ColourSignature] = Field(default_factory=list, max_length=FRAMES_MAX)
    duration_s: NonNegative | None = None


class FrameMatch(Model):
    frame_s: NonNegative  # this upload's frame
    earlier_frame_s: NonNegative
    distance: Annotated[int, Field(ge=0, le=64)]
    colour_delta_e: Finite


class DuplicateOf(Model):
    """An earlier upload of the same brand this one nearly duplicates (`exact`: same content
    by the stated rule, so its analysis is reused)."""

    media_id: UUID
    sha256: Sha256Hex
    distance: Annotated[int, Field(ge=0, le=64)]  # the largest over the matched frames
    exact: bool
    frames: list[FrameMatch] = Field(default_factory=list, max_length=FRAMES_MAX)
