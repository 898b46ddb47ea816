"""The two stages of a media share one inspection: one fetch, one probe, one decode."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest

from processors import pipeline
from processors.analyzers.base import AnalysisRequest
from processors.brand.profiles import BrandCache
from processors.config import Settings
from processors.errors import IntegrityError
from processors.keys import media_key
from processors.pipeline import Inspections, MediaFiles
from processors.pool import RenewingPool
from processors.storage import LocalStore, S3Store
from processors.synthetic import events as make
from processors.synthetic.samples import make_video


@pytest.fixture
def clip_event(tmp_path: Path) -> tuple[LocalStore, Any]:
    store = LocalStore(tmp_path / "bucket")
    event = make.uploaded(brand_id=None)
    key = media_key(event.media_id)
    clip = make_video(tmp_path / "c.mp4", width=320, height=240, seconds=3, cuts=1)
    store.put_file(key, clip)
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    return store, event.model_copy(update={"object_key": key, "sha256": digest})


async def test_check_and_analysis_come_from_one_inspection(
    clip_event: tuple[LocalStore, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, event = clip_event
    calls: list[object] = []
    real = pipeline.inspect

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1].event_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "inspect", counted)
    with ThreadPoolExecutor(2) as threads:
        pool = cast(RenewingPool, threads)
        shared = Inspections(Settings(), pool, MediaFiles(store), BrandCache(store), analyze=True)
        request = AnalysisRequest(Path("unused"), event)
        check, measured = await asyncio.gather(shared.get(event), shared.measure(request))
    assert calls == [event.event_id]
    assert check.check.status == "done" and check.check.media_id == event.media_id
    assert measured.technical.shot_count == 2
    assert not shared._entries  # both stages took it: nothing kept


async def test_a_stage_alone_gets_its_own_inspection_and_an_error_is_not_kept(
    clip_event: tuple[LocalStore, Any],
) -> None:
    store, event = clip_event
    with ThreadPoolExecutor(1) as threads:
        shared = Inspections(
            Settings(),
            cast(RenewingPool, threads),
            MediaFiles(store),
            BrandCache(store),
            analyze=False,
        )
        assert (await shared.get(event)).analysis is None  # the check alone, no analysis
        gone = event.model_copy(update={"object_key": "media/2020/01/01/missing"})
        with pytest.raises(Exception, match="missing"):
            await shared.get(gone)
        assert not shared._entries


@pytest.mark.parametrize("where", ["in place", "downloaded"])
async def test_bytes_other_than_the_events_fail_the_media_readably(
    clip_event: tuple[LocalStore, Any], s3_store: S3Store, tmp_path: Path, where: str
) -> None:
    local, event = clip_event
    store = local if where == "in place" else s3_store
    if store is s3_store:
        store.put_bytes(event.object_key, local.get_bytes(event.object_key))
    (tmp_path / "copies").mkdir()
    files = MediaFiles(store, folder=tmp_path / "copies")
    assert (await files.fetch(event)).read_bytes() == local.get_bytes(event.object_key)
    swapped = event.model_copy(update={"sha256": "ab" * 32})  # an event naming other bytes
    with pytest.raises(IntegrityError, match=f"not the event's {'ab' * 32}"):
        await files.fetch(swapped)
    assert sorted(p.name for p in files.folder.iterdir()) == (
        [] if where == "in place" else [event.sha256]  # no copy under the claimed hash
    )
    with ThreadPoolExecutor(1) as threads:
        pool = cast(RenewingPool, threads)
        stages = pipeline.Stages(
            Settings(),
            store,
            cast(Any, None),
            pool,
            files,
            Inspections(Settings(), pool, files, BrandCache(store), analyze=False),
        )
        check = await stages.brand_check(swapped)
    assert check.status == "failed"
    assert check.error is not None and "not the event's" in check.error


async def test_a_file_changed_in_place_after_its_check_is_hashed_again(
    clip_event: tuple[LocalStore, Any],
) -> None:
    store, event = clip_event
    files = MediaFiles(store)
    await files.fetch(event)
    path = store.local_path(event.object_key)
    assert path is not None
    path.write_bytes(path.read_bytes() + b"appended")  # a new version of the object
    with pytest.raises(IntegrityError):
        await files.fetch(event)


def test_warming_loads_the_text_recogniser_too() -> None:
    """RapidOCR loads its recogniser on the first text it finds: warming must find some, or the
    first media with text pays for the load."""
    from processors.pipeline import _warm
    from processors.vision.ocr import _engine

    _engine.cache_clear()
    _warm(0)
    assert _engine().text_det is not None
    assert _engine().text_rec is not None
