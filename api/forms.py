"""Form fields of multipart uploads, validated into a Submission (422 naming each bad field)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.errors import invalid_fields
from api.intake import Submission
from api.models import MAX_LABELS
from api.uploads import Received
from schemas.events import Generation
from schemas.fields import BrandId, Labels, Platform, Platforms

_BRAND = TypeAdapter(BrandId)
# the event's own field types: a value they refuse is a 422 here, not a 500 at publish time
_PLATFORMS = TypeAdapter(Platforms)
_LABELS = TypeAdapter(Labels)
UPLOAD_FIELDS = frozenset({"brand_id", "platforms", "labels"})
GENERATION_FIELDS = UPLOAD_FIELDS | {"generation"}


def _platforms(values: list[str]) -> list[str]:
    """Accept `platforms` as repeated fields, comma-separated, or both."""
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def _json(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        msg = f"not valid JSON: {e.msg}"
        raise ValueError(msg) from e


def submission(received: Received, *, generation: bool = False) -> Submission:
    """Validate every form field; collect all problems before refusing."""
    allowed = GENERATION_FIELDS if generation else UPLOAD_FIELDS
    problems = [
        {"field": name, "message": "unknown form field"}
        for name in received.fields
        if name not in allowed
    ]
    parsed: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        if name not in allowed:
            continue
        try:
            parsed[name] = check(received)
        except (ValidationError, ValueError) as e:
            problems.append({"field": name, "message": _message(e)})
    if problems:
        hint = (
            "brand_id: a brand id; platforms: comma-separated; labels and generation: JSON objects"
        )
        raise invalid_fields(problems, hint, what="form fields")
    return Submission(
        brand_id=parsed.get("brand_id"),
        platforms=parsed.get("platforms", []),
        labels=parsed.get("labels", {}),
        generation=parsed.get("generation"),
    )


def _brand(received: Received) -> str | None:
    value = received.field("brand_id")
    return _BRAND.validate_python(value) if value else None


def _platform_list(received: Received) -> list[Platform]:
    return _PLATFORMS.validate_python(_platforms(received.fields.get("platforms", [])))


def _label_map(received: Received) -> dict[str, str]:
    return _labels(_json(received.field("labels")))


def _generation(received: Received) -> Generation:
    raw = received.field("generation")
    if raw is None:
        msg = "required: a JSON object with prompt and model"
        raise ValueError(msg)
    return Generation.model_validate_json(raw)


_CHECKS: dict[str, Callable[[Received], Any]] = {
    "brand_id": _brand,
    "platforms": _platform_list,
    "labels": _label_map,
    "generation": _generation,
}


def _labels(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    labels = _LABELS.validate_python(value)
    if len(labels) > MAX_LABELS:
        msg = f"at most {MAX_LABELS} labels"
        raise ValueError(msg)
    return labels


def _message(e: Exception) -> str:
    if isinstance(e, ValidationError):
        parts = (f"{_where(x['loc'])}: {x['msg']}" for x in e.errors())
        return "; ".join(parts)
    return str(e)


def _where(loc: tuple[int | str, ...], most: int = 64) -> str:
    """Name where an error is, cutting parts: a refused label key may be 64 KiB long."""
    parts = (p if len(p) <= most else p[: most - 3] + "..." for p in map(str, loc))
    return ".".join(parts) or "value"
