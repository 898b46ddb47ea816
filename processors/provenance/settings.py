"""Provenance options: where the C2PA trust anchors are, how much metadata is read."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class ProvenanceSettings(BaseModel):
    trust_anchors: Path | None = Field(
        default=None,
        description="PEM bundle of the root certificates C2PA signers are trusted under; "
        "without it `trusted` is null (unknown), never guessed",
    )
    max_xmp_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="larger XMP is not read"
    )

    @field_validator("trust_anchors")
    @classmethod
    def _pem_bundle(cls, path: Path | None) -> Path | None:
        """Refuse at start what the decoder would refuse on every media."""
        if path is None:
            return None
        try:
            text = path.read_text("ascii")
        except (OSError, UnicodeDecodeError) as e:
            msg = f"provenance.trust_anchors {path} cannot be read as a PEM file: {e}"
            raise ValueError(msg) from e
        if "-----BEGIN CERTIFICATE-----" not in text:
            msg = f"provenance.trust_anchors {path} holds no PEM certificate"
            raise ValueError(msg)
        return path.resolve()
