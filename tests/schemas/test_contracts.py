"""The published contracts stay equal to the code that produces and reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from processors.gate import decide_result, decide_review
from processors.synthetic import events as make
from schemas import lake
from schemas.events import (
    EVENT_MODELS,
    INPUT_EVENT,
    DeadLetter,
    Generation,
    LogoCheck,
    MediaGenerated,
    MediaUploaded,
    PaletteCheck,
    PlatformFit,
    Usage,
    Violation,
)
from schemas.export import FOLDER, file_name, render
from schemas.ids import uuid7, uuid7_time
from schemas.profiles import ReviewPolicy
from schemas.reviews import Review


@pytest.mark.parametrize("schema_id", sorted(EVENT_MODELS))
def test_json_schema_file_matches_model(schema_id: str) -> None:
    path = FOLDER / file_name(schema_id)
    assert path.read_text() == render(schema_id), "run `python -m schemas.export`"


def test_uuid7_is_time_ordered_and_carries_its_time() -> None:
    ids = [uuid7() for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000
    assert abs(uuid7_time(ids[0]) - datetime.now(tz=UTC)) < timedelta(seconds=2)
    assert all(i.version == 7 for i in ids)


def _uploaded(**extra: object) -> MediaUploaded:
    return make.uploaded(
        object_key="media/2026/01/01/x",
        sha256="a" * 64,
        size_bytes=10,
        brand_id="acme",
        platforms=["tiktok"],
        **extra,
    )


def test_input_events_round_trip_through_the_discriminated_union() -> None:
    up = _uploaded()
    gen = MediaGenerated(
        **up.model_dump(exclude={"schema_id"}),
        generation=Generation(prompt="a red car", model="veo-3", seed=7, cost_usd=0.4),
    )
    assert INPUT_EVENT.validate_json(up.to_bytes()) == up
    assert INPUT_EVENT.validate_json(gen.to_bytes()) == gen
    assert b'"schema":"reelscope.media.generated/1"' in gen.to_bytes()


def test_media_id_must_be_uuid7() -> None:
    with pytest.raises(ValueError, match="UUIDv7"):
        MediaUploaded.model_validate({**_uploaded().model_dump(), "media_id": "0" * 32})


def _full_events() -> dict[str, lake.LakeEvent]:
    up = _uploaded()
    src = make.source(up)  # brand "acme"
    info = make.video_info(codec="h264", seconds=6.0, size_bytes=10)
    check = make.brand_check(
        media_id=up.media_id,
        producer="t",
        source=src,
        verdict="warn",
        score=0.7,
        media=info,
        frames_sampled=8,
        brand_version=3,
        palette=PaletteCheck(status="ok", on_palette_ratio=0.9),
        logo=LogoCheck(status="ok", found=True, bbox=[0.1, 0.1, 0.2, 0.1], confidence=0.9),
        platforms={"tiktok": PlatformFit(ok=False, problems=["too long"])},
        violations=[Violation(code="logo.too_small", severity="warn", message="m")],
    )
    analysis = make.analysis(
        media_id=up.media_id, producer="t", source=src, usage=Usage(cost_usd=0.0)
    )
    result = make.result(check, analysis, producer="t")  # warn, 0.7: the check's
    dead = DeadLetter(
        producer="t",
        stage="intake",
        reason="not JSON",
        error_type="invalid_json",
        source_topic="x",
        source_partition=1,
        source_offset=2,
        payload_b64="",
    )
    review = Review(
        media_id=up.media_id,
        producer="t",
        brand_id="acme",
        decision="rejected",
        platforms=["tiktok"],
        reason="the logo is too small",
        reviewer="lead",
        verdict=result.verdict,
        checks_version=check.checks_version,
        result_event_id=result.event_id,
    )
    return {
        "uploads": up,
        "brand_checks": check,
        "analyses": analysis,
        "media_results": result,
        "deadletters": dead,
        "reviews": review,
        "decisions": decide_review(decide_result(None, result, ReviewPolicy(), "t"), review, "t"),
    }


@pytest.mark.parametrize("table_name", sorted(lake.TABLES))
def test_rows_fit_the_explicit_arrow_schema(table_name: str) -> None:
    table = lake.TABLES[table_name]
    event = _full_events()[table_name]
    row = lake.to_row(event, table.topics[0], 3, 42)
    assert set(row) == set(table.schema.names), "to_row and the Arrow schema disagree"
    arrow = pa.Table.from_pylist([row], schema=table.schema)
    assert arrow.schema.equals(table.schema)
    assert arrow.column("offset")[0].as_py() == 42
    assert arrow.column("dt")[0].as_py() == lake.partition_day(event)


def test_result_row_flattens_the_joined_halves() -> None:
    result = _full_events()["media_results"]
    row = lake.to_row(result, "t", 0, 0)
    assert row["violation_codes"] == ["logo.too_small"]
    assert row["platforms_failed"] == ["tiktok"]
    assert row["platforms"] == ["tiktok"]
    assert row["source"] == "uploaded"
    assert row["latency_ms"] >= 0
