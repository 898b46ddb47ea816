"""The near-duplicate rule on transformed copies and look-alikes, the per-brand index in the
bucket, and the Gemini analysis reused for an exact-content copy (never across brands)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import cv2
import pytest

from processors.analyzers.gemini.analyzer import GeminiAnalyzer
from processors.analyzers.gemini.cache import StoreCache
from processors.analyzers.gemini.fake_server import FakeGemini
from processors.analyzers.gemini.options import GeminiOptions
from processors.brand.check import check_media
from processors.brand.profiles import BrandCache
from processors.config import Settings
from processors.dedupe import DedupeSettings, fingerprint
from processors.dedupe.index import RELIST_S, DedupeIndex
from processors.dedupe.rule import Entry, compare
from processors.keys import dedupe_prefix, media_key
from processors.media.frames import Frame
from processors.media.limits import LimitSettings
from processors.pipeline import Inspections, MediaFiles, Stages
from processors.pool import RenewingPool
from processors.storage import LocalStore
from processors.synthetic import dupes
from processors.synthetic import events as make
from processors.synthetic.lake import uuid7_at
from schemas.events import MediaUploaded
from schemas.ids import uuid7
from schemas.provenance import Fingerprint

RULE = DedupeSettings()


def still(img: Any) -> Fingerprint:
    return fingerprint([Frame(0.0, img)], None)


def entry(fp: Fingerprint, kind: Any = "image") -> Entry:
    return Entry(uuid4(), "a" * 64, kind, fp)


@pytest.mark.parametrize("seed", range(4))
def test_transformed_stills_are_exact_copies_and_look_alikes_are_not(seed: int) -> None:
    original = dupes.asset(seed)
    earlier = entry(still(original))
    for name in dupes.TRANSFORMS:
        match = compare(still(dupes.transform(original, name)), "image", earlier, RULE)
        assert match is not None and match.exact, name
    assert compare(still(dupes.lookalike(seed)), "image", earlier, RULE) is None
    assert compare(still(dupes.asset(seed + 5)), "image", earlier, RULE) is None
    assert compare(still(original), "video", earlier, RULE) is None  # another kind


def test_a_clip_matches_its_reencoded_copy_frame_by_frame_and_not_its_look_alike(
    tmp_path: Path,
) -> None:
    def sampled(path: Path) -> Fingerprint:
        check = check_media(path, make.uploaded(), None, [], LimitSettings(), fingerprints=True)
        assert check.fingerprint is not None
        return check.fingerprint

    source = dupes.clip(tmp_path / "a.mp4", 1, seconds=4)
    earlier = entry(sampled(source), "video")
    copy = sampled(dupes.transform_clip(source, "reencoded", tmp_path / "b.mp4"))
    match = compare(copy, "video", earlier, RULE)
    assert match is not None and match.exact and len(match.frames) == len(copy.phash)
    assert {m.frame_s for m in match.frames} == set(copy.frame_s)
    other = sampled(dupes.clip(tmp_path / "c.mp4", 1, seconds=4, look_alike=True))
    assert compare(other, "video", earlier, RULE) is None
    longer = copy.model_copy(update={"duration_s": (copy.duration_s or 0) + 2})
    partial = compare(longer, "video", earlier, RULE)
    assert partial is not None and not partial.exact  # near duplicate, not the same content


def test_the_index_is_per_brand_in_the_bucket_and_a_replay_skips_itself(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first, second = DedupeIndex(store, RULE), DedupeIndex(store, RULE)  # two replicas
    original, copy = dupes.asset(3), dupes.transform(dupes.asset(3), "resized")
    a, b, c = uuid7(), uuid7(), uuid7()  # media ids: UUIDv7, in time order
    assert first.match_and_record("brand-a", a, "1" * 64, "image", still(original)) is None
    found = second.match_and_record("brand-a", b, "2" * 64, "image", still(copy))
    assert found is not None and (found.media_id, found.sha256, found.exact) == (a, "1" * 64, True)
    assert second.match_and_record("brand-b", c, "3" * 64, "image", still(copy)) is None
    again = first.match_and_record("brand-a", a, "1" * 64, "image", still(original))
    assert again is not None and again.media_id == b  # its own entry is skipped
    assert len(store.list(dedupe_prefix("brand-a"))) == 2
    capped = DedupeIndex(store, RULE.model_copy(update={"max_entries": 1}))
    newest = capped.match_and_record("brand-a", uuid7(), "4" * 64, "image", still(original))
    assert newest is not None and newest.media_id == b  # only the newest entry is compared


class CountingStore(LocalStore):
    """A folder bucket that counts its listings (an S3 LIST each, or more past 1000 keys)."""

    lists = 0

    def list(self, prefix: str) -> list[str]:
        self.lists += 1
        return super().list(prefix)


def test_a_lookup_lists_the_recent_days_only_and_keeps_past_days_listings(tmp_path: Path) -> None:
    store = CountingStore(tmp_path)
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    clock = [now.timestamp()]
    settings = RULE.model_copy(update={"window_days": 30})
    recent, old = dupes.asset(5), dupes.asset(6)
    for when, name, image in (
        (now - timedelta(days=3), "3", recent),
        (now - timedelta(days=45), "4", old),
    ):
        DedupeIndex(store, RULE).match_and_record(
            "b", uuid7_at(when), name * 64, "image", still(image)
        )
    index = DedupeIndex(store, settings, lambda: clock[0])
    store.lists = 0

    def lookup(minutes: int, name: str, image: Any) -> str | None:
        media_id = uuid7_at(now + timedelta(minutes=minutes))
        found = index.match_and_record("b", media_id, name * 64, "image", still(image))
        return None if found is None else found.sha256

    assert lookup(0, "5", dupes.transform(recent, "reencoded")) == "3" * 64  # 3 days back
    assert store.lists == 30  # today and the 29 days before it, once each
    store.lists = 0
    assert lookup(1, "6", dupes.transform(old, "reencoded")) is None  # 45 days back: not looked at
    assert store.lists == 1  # today's folder only: the past days' listings are kept
    clock[0] += RELIST_S + 1
    store.lists = 0
    lookup(20, "7", dupes.asset(7))
    assert store.lists == 30  # the past days listed again after RELIST_S
    capped = DedupeIndex(store, settings.model_copy(update={"max_entries": 2}), lambda: clock[0])
    store.lists = 0
    capped.match_and_record("b", uuid7_at(now + timedelta(minutes=30)), "8" * 64, "image",
                            still(dupes.asset(8)))  # fmt: skip
    assert store.lists == 1  # today's folder alone held more than max_entries


@pytest.fixture
async def stages(tmp_path: Path, gemini: FakeGemini) -> AsyncIterator[Stages]:
    gemini.reset()
    store = LocalStore(tmp_path / "bucket")
    settings = Settings()
    options = GeminiOptions(backoff_base_s=0.01, max_attempts=2)
    analyzer = GeminiAnalyzer(
        api_key=gemini.api_key, model="gemini-2.5-flash", base_url=gemini.url,
        options=options, cache=StoreCache(store),
    )  # fmt: skip
    with ThreadPoolExecutor(2) as threads:
        pool = cast(RenewingPool, threads)
        files = MediaFiles(store)
        index = DedupeIndex(store, settings.dedupe)
        inspections = Inspections(
            settings, pool, files, BrandCache(store), analyze=False, dedupe=index, reuse=True
        )
        yield Stages(settings, store, analyzer, pool, files, inspections)
        await analyzer.aclose()


def put(stages: Stages, folder: Path, name: str, image: Any, brand: str) -> MediaUploaded:
    path = folder / name
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    event = make.uploaded(brand_id=brand, media_kind="image", content_type="image/jpeg")
    key = media_key(event.media_id)
    stages.store.put_file(key, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return event.model_copy(update={"object_key": key, "sha256": digest})


async def test_an_exact_copy_reuses_the_analysis_of_its_brand_only(
    stages: Stages, gemini: FakeGemini, tmp_path: Path
) -> None:
    original = dupes.asset(7)

    async def both(event: MediaUploaded) -> tuple[Any, Any]:
        return await asyncio.gather(stages.brand_check(event), stages.analyze(event))

    first = put(stages, tmp_path, "a.jpg", original, "brand-a")
    check, analysis = await both(first)
    assert check.duplicate_of is None and analysis.status == "done" and not analysis.cached
    assert len(gemini.calls()) == 1

    copy = put(stages, tmp_path, "b.jpg", dupes.transform(original, "cropped_5pct"), "brand-a")
    check, analysis = await both(copy)
    assert check.duplicate_of is not None and check.duplicate_of.media_id == first.media_id
    assert check.duplicate_of.exact
    assert (analysis.cached, analysis.reused_from, analysis.usage.cost_usd) == (
        True,
        first.media_id,
        0.0,
    )
    assert analysis.content is not None and len(gemini.calls()) == 1  # no call

    other_brand = put(stages, tmp_path, "c.jpg", dupes.transform(original, "resized"), "brand-b")
    check, analysis = await both(other_brand)
    assert check.duplicate_of is None and analysis.reused_from is None
    assert len(gemini.calls()) == 2  # brand B pays for its own analysis

    look = put(stages, tmp_path, "d.jpg", dupes.lookalike(7), "brand-a")
    check, analysis = await both(look)
    assert check.duplicate_of is None and analysis.reused_from is None
    assert len(gemini.calls()) == 3
    assert not stages.inspections._entries  # both stages took each inspection: none kept
