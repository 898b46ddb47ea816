"""What the fake Gemini server answers: scripted behaviours, records, token accounting, error
bodies and the JSON naming of Google's REST protocol (the HTTP side is `fake_http`)."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import av

Kind = Literal["ok", "error", "hang", "block_prompt", "block_safety", "text"]
FRAME_TOKENS = {"MEDIA_RESOLUTION_LOW": 66}
DEFAULT_FRAME_TOKENS = 258
AUDIO_TOKENS_PER_S = 32
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class Behaviour:
    """What the next generateContent call does."""

    kind: Kind = "ok"
    status: int = 200
    retry_delay: str | None = None
    text: str | None = None
    answer: dict[str, Any] | None = None
    latency_s: float | None = None

    @classmethod
    def ok(cls, answer: dict[str, Any] | None = None) -> Behaviour:
        return cls("ok", answer=answer)

    @classmethod
    def error(cls, status: int, retry_delay: str | None = None) -> Behaviour:
        return cls("error", status=status, retry_delay=retry_delay)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body_size: int
    json: Any = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class StoredFile:
    name: str
    mime_type: str
    data: bytes
    polls_left: int
    display_name: str | None = None


# --- answers ------------------------------------------------------------------------------


def instance_for(schema: dict[str, Any], name: str = "value") -> Any:
    """Build a plausible value that validates against a (ref-free) JSON Schema."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return instance_for(options[0], name) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: instance_for(v, k) for k, v in props.items()}
    if kind == "array":
        return _array_for(schema.get("items", {"type": "string"}), name)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        lo, hi = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return round((lo + hi) * 0.75, 3)
    if kind == "boolean":
        return True
    return f"fake {name}"


def _array_for(items: dict[str, Any], name: str) -> list[Any]:
    """One item, or one per value when the items are objects keyed by an enum (per platform)."""
    first = instance_for(items, name)
    keyed = [k for k, v in items.get("properties", {}).items() if "enum" in v]
    if not keyed:
        return [first]
    return [{**first, keyed[0]: value} for value in items["properties"][keyed[0]]["enum"]]


def _media_seconds(data: bytes, meta: dict[str, Any]) -> tuple[float, bool]:
    """Read the real duration and audio presence, then apply the clip offsets."""
    with av.open(io.BytesIO(data), mode="r") as container:
        duration = (container.duration or 0) / 1_000_000
        has_audio = bool(container.streams.audio)
    start = float(str(meta.get("startOffset", "0s")).rstrip("s"))
    end = float(str(meta.get("endOffset", f"{duration}s")).rstrip("s"))
    return max(0.0, min(end, duration) - start), has_audio


def media_tokens(mime: str, data: bytes, meta: dict[str, Any], resolution: str | None) -> int:
    """Count input tokens for one media part as Gemini documents it."""
    per_frame = FRAME_TOKENS.get(resolution or "", DEFAULT_FRAME_TOKENS)
    if mime.startswith("image/"):
        return per_frame
    seconds, has_audio = _media_seconds(data, meta)
    fps = float(meta.get("fps", 1.0))
    return round(seconds * (per_frame * fps + (AUDIO_TOKENS_PER_S if has_audio else 0)))


def error_body(status: int, message: str, retry_delay: str | None = None) -> dict[str, Any]:
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": STATUS_NAMES.get(status),
            "domain": "googleapis.com",
        }
    ]
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    return {
        "error": {
            "code": status,
            "message": message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
            "details": details,
        }
    }


_OPAQUE = ("responseJsonSchema", "responseSchema", "parametersJsonSchema")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def camelize(body: Any) -> Any:
    """Accept both field spellings like Google's proto JSON parser (the SDK sends some snake)."""
    if isinstance(body, list):
        return [camelize(v) for v in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for k, v in body.items():
        key = _camel(k)
        out[key] = v if key in _OPAQUE else camelize(v)
    return out


def b64decode(text: str) -> bytes:
    """Decode base64 as the SDK sends it (URL-safe alphabet) or as curl users do (standard)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def redact(body: Any) -> Any:
    """Replace base64 media with its decoded size so recorded bodies stay small."""
    if isinstance(body, dict):
        if "data" in body and "mimeType" in body:
            return {"mimeType": body["mimeType"], "size": len(b64decode(body["data"]))}
        return {k: redact(v) for k, v in body.items()}
    if isinstance(body, list):
        return [redact(v) for v in body]
    return body
