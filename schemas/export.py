"""Write the JSON Schema files of every event model: `python -m schemas.export`."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.events import EVENT_MODELS, json_schema_of

FOLDER = Path(__file__).parent / "json"


def file_name(schema_id: str) -> str:
    """`reelscope.media.uploaded/1` -> `media.uploaded.v1.schema.json`."""
    name, version = schema_id.removeprefix("reelscope.").split("/")
    return f"{name}.v{version}.schema.json"


def render(schema_id: str) -> str:
    doc = {"$id": schema_id, **json_schema_of(EVENT_MODELS[schema_id])}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for schema_id in EVENT_MODELS:
        (FOLDER / file_name(schema_id)).write_text(render(schema_id))


if __name__ == "__main__":
    main()
