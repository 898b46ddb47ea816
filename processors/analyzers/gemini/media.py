"""How media and answers cross the Gemini boundary: MIME from magic bytes, parts, blocks, usage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.genai import types

from processors.analyzers.gemini.cost import cost_usd
from processors.analyzers.gemini.options import GeminiOptions, ModelPrice
from schemas.events import Usage
from schemas.fields import MediaKind

RESOLUTIONS: dict[str, types.MediaResolution | None] = {
    "default": None,
    "low": types.MediaResolution.MEDIA_RESOLUTION_LOW,
    "medium": types.MediaResolution.MEDIA_RESOLUTION_MEDIUM,
    "high": types.MediaResolution.MEDIA_RESOLUTION_HIGH,
}
BLOCKING_FINISH = {
    types.FinishReason.SAFETY,
    types.FinishReason.PROHIBITED_CONTENT,
    types.FinishReason.BLOCKLIST,
    types.FinishReason.SPII,
    types.FinishReason.IMAGE_SAFETY,
    types.FinishReason.IMAGE_PROHIBITED_CONTENT,
    types.FinishReason.RECITATION,
}
_FTYP_IMAGES = {b"heic", b"heix", b"mif1", b"msf1"}


def sniff_mime(path: Path) -> str | None:
    """Name the MIME type from the first bytes (the client's claim is not trusted)."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI "):
        return "image/webp" if head[8:12] == b"WEBP" else "video/avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_IMAGES:
            return "image/heic"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg"
    return None


def video_metadata(kind: MediaKind, options: GeminiOptions) -> types.VideoMetadata | None:
    """Sampling rate and clip for a video part; None keeps Gemini's defaults."""
    if kind != "video" or (options.fps, options.clip_start_s, options.clip_end_s) == (None,) * 3:
        return None
    return types.VideoMetadata(
        fps=options.fps,
        start_offset=f"{options.clip_start_s}s" if options.clip_start_s is not None else None,
        end_offset=f"{options.clip_end_s}s" if options.clip_end_s is not None else None,
    )


def block_reason(response: types.GenerateContentResponse) -> str | None:
    """Say why Gemini refused, if it did (a prompt block or a blocking finish reason)."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        note = f" ({feedback.block_reason_message})" if feedback.block_reason_message else ""
        return f"prompt blocked: {feedback.block_reason.value}{note}"
    for cand in response.candidates or []:
        if cand.finish_reason in BLOCKING_FINISH:
            flagged = [
                str(r.category.value) for r in cand.safety_ratings or [] if r.blocked and r.category
            ]
            detail = f" ({', '.join(flagged)})" if flagged else ""
            return f"response blocked: {cand.finish_reason.value}{detail}"
    return None


@dataclass
class Tally:
    """Tokens billed across every call made for one analysis (retries and re-asks included)."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    def add(self, meta: types.GenerateContentResponseUsageMetadata | None) -> None:
        self.calls += 1
        if meta is None:
            return
        self.input_tokens += meta.prompt_token_count or 0
        # thinking tokens are billed at the output price
        self.output_tokens += (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)

    def cost(self, price: ModelPrice) -> float:
        return cost_usd(self.input_tokens, self.output_tokens, price)

    def usage(self, price: ModelPrice, estimate: float) -> Usage:
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=round(self.cost(price), 8),
            estimated_cost_usd=round(estimate, 8),
        )
