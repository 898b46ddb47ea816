"""Every field is bounded: what the intake accepts, the lake and a Kafka message can hold."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, ValidationError

from processors.lake.writer import to_parquet
from processors.synthetic import events as make
from schemas import lake
from schemas.events import (
    EVENT_MODELS,
    INPUT_EVENT,
    BrandCheck,
    DeadLetter,
    Generation,
    MediaUploaded,
    SourceRef,
    Usage,
)
from schemas.fields import INT32_MAX, INT64_MAX, LABELS_MAX, PAYLOAD_B64_MAX, TEXT_MAX, Model

# strings whose format fixes their length: pydantic parses them, no maxLength is emitted
FIXED_FORMATS = {"uuid", "date-time"}
MB = 1_000_000


# --- structure: no unbounded field anywhere -----------------------------------------------


def unbounded(schema: dict[str, Any]) -> list[str]:
    """Paths of every integer, string, array or map in a JSON Schema that lacks a bound."""
    defs = schema.get("$defs", {})
    problems: list[str] = []
    seen: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(defs[name], name)
            return
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for i, choice in enumerate(node.get(key, [])):
                walk(choice, f"{path}|{i}")
        problems.extend(f"{path}: {p}" for p in _missing_bounds(node))
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{name}")
        for key in ("items", "additionalProperties", "propertyNames"):
            walk(node.get(key), f"{path}[{key}]")

    walk(schema, schema.get("title", "(root)"))
    return problems


def _missing_bounds(node: dict[str, Any]) -> Iterator[str]:
    if "const" in node or "enum" in node:
        return
    kind = node.get("type")
    if kind == "integer":
        if "minimum" not in node and "exclusiveMinimum" not in node:
            yield "integer without a minimum"
        if "maximum" not in node and "exclusiveMaximum" not in node:
            yield "integer without a maximum"
    elif kind == "string" and "maxLength" not in node and node.get("format") not in FIXED_FORMATS:
        yield "string without maxLength"
    elif kind == "array" and "maxItems" not in node:
        yield "array without maxItems"
    elif kind == "object" and node.get("additionalProperties", True) is not False:
        if "maxProperties" not in node:
            yield "map without maxProperties"
        keys = node.get("propertyNames", {})
        if "maxLength" not in keys and "enum" not in keys:  # an enum bounds its keys too
            yield "map whose keys have no maxLength"


def float_validators(model: type[BaseModel]) -> list[tuple[str, bool]]:
    """(model, finite only) for every float validator in a model's core schema."""
    found: list[tuple[str, bool]] = []

    def walk(node: Any, config: dict[str, Any], path: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, config, path)
            return
        if not isinstance(node, dict):
            return
        if node.get("type") == "model":  # a model's fields follow its own config
            config, path = node.get("config", {}), node["cls"].__name__
        if node.get("type") == "float":  # pydantic's default allows NaN and infinity
            found.append((path, node.get("allow_inf_nan", config.get("allow_inf_nan")) is False))
        for key, value in node.items():
            if key not in ("cls", "metadata", "serialization"):
                walk(value, config, path)

    walk(model.__pydantic_core_schema__, {}, model.__name__)
    return found


@pytest.mark.parametrize("mode", ["validation", "serialization"])
@pytest.mark.parametrize("schema_id", sorted(EVENT_MODELS))
def test_every_field_of_every_event_is_bounded(
    schema_id: str, mode: Literal["validation", "serialization"]
) -> None:
    schema = EVENT_MODELS[schema_id].model_json_schema(by_alias=True, mode=mode)
    assert unbounded(schema) == []


@pytest.mark.parametrize("schema_id", sorted(EVENT_MODELS))
def test_no_float_accepts_nan_or_infinity(schema_id: str) -> None:
    floats = float_validators(EVENT_MODELS[schema_id])
    assert [where for where, finite in floats if not finite] == []


class _Loose(BaseModel):
    count: int
    name: str
    tags: list[str]
    extra: dict[str, str]
    ratio: float


class _Nested(Model):
    inner: _Loose


def test_the_bound_checks_catch_unbounded_fields() -> None:
    """The structural tests above must be able to fail: a model without bounds is caught."""
    problems = unbounded(_Nested.model_json_schema())
    assert "_Loose.count: integer without a minimum" in problems
    assert "_Loose.count: integer without a maximum" in problems
    assert "_Loose.name: string without maxLength" in problems
    assert "_Loose.tags: array without maxItems" in problems
    assert "_Loose.tags[items]: string without maxLength" in problems
    assert "_Loose.extra: map without maxProperties" in problems
    assert "_Loose.extra: map whose keys have no maxLength" in problems
    assert "_Loose.extra[additionalProperties]: string without maxLength" in problems
    assert float_validators(_Nested) == [("_Loose", False)]
    assert ("Generation", True) in float_validators(EVENT_MODELS["reelscope.media.generated/1"])


# --- edge values --------------------------------------------------------------------------


def _uploaded(**fields: Any) -> dict[str, Any]:
    stored = make.uploaded_fields(object_key="media/2026/01/01/x", sha256="a" * 64, size_bytes=10)
    return stored | fields


def _error_text(e: pytest.ExceptionInfo[ValidationError]) -> str:
    return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.value.errors())


def _write_and_read(event: lake.LakeEvent, table: str, offset: int = 0) -> dict[str, Any]:
    """Encode the event's lake row as Parquet (the writer's path) and read the row back."""
    lake_table = lake.TABLES[table]
    row = lake.to_row(event, lake_table.topics[0], INT32_MAX, offset)
    encoded = to_parquet(lake_table, [row])
    rows: list[dict[str, Any]] = pq.read_table(io.BytesIO(encoded)).to_pylist()
    return rows[0]


def test_size_bytes_beyond_int64_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        MediaUploaded.model_validate(_uploaded(size_bytes=2**63))
    assert "size_bytes: Input should be less than or equal to 9223372036854775807" in _error_text(
        info
    )
    with pytest.raises(ValidationError, match="size_bytes"):
        MediaUploaded.model_validate(_uploaded(size_bytes=0))


def test_the_largest_size_is_accepted_and_written_to_the_lake() -> None:
    event = MediaUploaded.model_validate(_uploaded(size_bytes=INT64_MAX))
    assert INPUT_EVENT.validate_json(event.to_bytes()) == event
    row = _write_and_read(event, "uploads", offset=INT64_MAX)
    assert (row["size_bytes"], row["offset"], row["partition"]) == (INT64_MAX, INT64_MAX, INT32_MAX)


def test_an_unbounded_int_would_not_fit_the_lake() -> None:
    """Why the bounds matter: the row of a value beyond the column's type cannot be written."""
    event = MediaUploaded.model_validate(_uploaded())
    table = lake.TABLES["uploads"]
    row = {**lake.to_row(event, table.topics[0], 0, 0), "size_bytes": 2**63}
    with pytest.raises(ValueError, match="do not fit the uploads schema"):
        to_parquet(table, [row])


def _source() -> SourceRef:
    return make.source(MediaUploaded.model_validate(_uploaded()))


def _check(**fields: Any) -> BrandCheck:
    return make.brand_check(producer="t", source=_source(), **fields)


@pytest.mark.parametrize("column", ["brand_version", "frames_sampled"])
def test_int32_columns_take_their_largest_value_and_refuse_one_more(column: str) -> None:
    assert _write_and_read(_check(**{column: INT32_MAX}), "brand_checks")[column] == INT32_MAX
    with pytest.raises(ValidationError, match=column):
        _check(**{column: INT32_MAX + 1})


def test_int64_counts_are_writable_and_never_negative() -> None:
    analysis = make.analysis(
        producer="t", source=_source(), usage=Usage(input_tokens=INT64_MAX, output_tokens=0)
    )
    assert _write_and_read(analysis, "analyses")["input_tokens"] == INT64_MAX
    with pytest.raises(ValidationError, match="input_tokens"):
        Usage(input_tokens=-1)
    with pytest.raises(ValidationError, match="input_tokens"):
        Usage(input_tokens=INT64_MAX + 1)


def test_a_megabyte_filename_is_refused_readably() -> None:
    with pytest.raises(ValidationError) as info:
        MediaUploaded.model_validate(_uploaded(filename="f" * MB))
    assert _error_text(info) == "filename: String should have at most 255 characters"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"team": "v" * MB}, "String should have at most 256 characters"),
        ({"k" * MB: "v"}, "String should have at most 64 characters"),
        ({f"k{i}": "v" for i in range(LABELS_MAX + 1)}, "Dictionary should have at most 50 items"),
    ],
    ids=["value", "key", "count"],
)
def test_oversized_labels_are_refused_readably(labels: dict[str, str], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        MediaUploaded.model_validate(_uploaded(labels=labels))
    [error] = info.value.errors()
    assert error["loc"][0] == "labels" and error["msg"].startswith(expected)


def test_the_most_labels_allowed_round_trip() -> None:
    labels = {f"{i:02d}".ljust(64, "k"): "v" * 256 for i in range(LABELS_MAX)}
    event = MediaUploaded.model_validate(_uploaded(labels=labels))
    assert INPUT_EVENT.validate_json(event.to_bytes()) == event


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(ValidationError, match="finite number"):
        Generation(prompt="p", model="m", cost_usd=value)
    with pytest.raises(ValidationError, match="finite number"):
        _check(processing_ms=value)


def test_nan_in_json_is_refused() -> None:
    doc = json.loads(
        MediaUploaded.model_validate(_uploaded()).to_bytes()
    )  # a generated asset whose cost is NaN, as a lenient JSON writer would send it
    doc |= {"schema": "reelscope.media.generated/1", "generation": {"prompt": "p", "model": "m"}}
    raw = json.dumps(doc).replace('"model": "m"', '"model": "m", "cost_usd": NaN')
    with pytest.raises(ValidationError, match="finite number"):
        INPUT_EVENT.validate_json(raw)


def test_bbox_is_four_numbers() -> None:
    with pytest.raises(ValidationError, match="bbox"):
        _check(logo={"status": "ok", "bbox": [0.1] * 5})
    assert _check(logo={"status": "ok", "bbox": [0.1] * 4}).logo is not None


def test_a_long_error_is_cut_not_refused() -> None:
    """Errors are built from exceptions: a long one must never stop a failed result."""
    check = _check(status="failed", error="e" * MB)
    assert check.error is not None and len(check.error) == TEXT_MAX
    assert check.error.endswith("\u2026")
    assert BrandCheck.model_validate_json(check.to_bytes()) == check


def test_a_dead_letter_refuses_a_payload_beyond_its_cap() -> None:
    fields = {
        "producer": "w",
        "stage": "intake",
        "reason": "bad",
        "error_type": "schema",
        "source_topic": "t",
        "source_partition": 0,
        "source_offset": 0,
    }
    with pytest.raises(ValidationError, match="payload_b64"):
        DeadLetter.model_validate({**fields, "payload_b64": "A" * (PAYLOAD_B64_MAX + 4)})
    with pytest.raises(ValidationError, match="source_partition"):
        DeadLetter.model_validate({**fields, "source_partition": -1, "payload_b64": ""})
