"""Token and cost arithmetic: what a Gemini call will cost, before and after.

Gemini bills video at ~258 tokens per sampled frame (66 at low resolution) plus 32 tokens per
second of audio, sampling 1 frame/s unless `fps` says otherwise: ~300 tokens/s by default, ~100
at low resolution. An image costs one frame. The estimate is what a call reserves in the
fleet's budget ledger (`processors.budget`) before it is made.
"""

from __future__ import annotations

from processors.analyzers.gemini.options import GeminiOptions, ModelPrice
from schemas.fields import MediaKind

FRAME_TOKENS = {"default": 258, "low": 66, "medium": 258, "high": 258}
AUDIO_TOKENS_PER_S = 32
CHARS_PER_TOKEN = 4


def clipped_seconds(duration_s: float, options: GeminiOptions) -> float:
    """Seconds of video the model will see after the clip offsets."""
    start = options.clip_start_s or 0.0
    end = min(duration_s, options.clip_end_s) if options.clip_end_s else duration_s
    return max(0.0, end - start)


def media_tokens(
    kind: MediaKind, duration_s: float | None, has_audio: bool, options: GeminiOptions
) -> int:
    """Estimate the input tokens one media part costs."""
    per_frame = FRAME_TOKENS[options.media_resolution]
    if kind == "image":
        return per_frame
    seconds = clipped_seconds(duration_s or options.unknown_duration_s, options)
    per_s = per_frame * (options.fps or 1.0) + (AUDIO_TOKENS_PER_S if has_audio else 0)
    return round(seconds * per_s)


def cost_usd(input_tokens: int, output_tokens: int, price: ModelPrice) -> float:
    return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6


def estimate_usd(media: int, prompt_chars: int, options: GeminiOptions, model: str) -> float:
    """Pre-call estimate: media + prompt tokens in, the expected answer out."""
    tokens_in = media + prompt_chars // CHARS_PER_TOKEN
    return cost_usd(tokens_in, options.expected_output_tokens, options.price(model))
