"""The offline analyzer on media the tests make: cuts, motion, audio, images, failures, pools."""

from __future__ import annotations

import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import cv2
import numpy as np
import pytest
from pydantic import SecretStr

from processors.analyzers.base import AnalysisRequest, AnalyzerSettings
from processors.analyzers.gemini.options import GeminiSettings
from processors.analyzers.local import LocalAnalyzer, analyze_file, analyze_media
from processors.analyzers.registry import create_analyzer
from processors.analyzers.scenes import detect_cuts
from processors.config import Settings
from processors.errors import StorageError
from processors.media import ffmpeg_exe, probe
from processors.media.limits import LimitSettings
from processors.storage import MemoryStore, StoreSettings
from processors.synthetic import events as make
from processors.synthetic.samples import cut_times, make_corrupt, make_image, make_video
from schemas.fields import MediaKind
from tests.processors.vision.test_vision import draw_face, jpeg_shape

LIMITS = LimitSettings()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generate the clips once for the module."""
    d = tmp_path_factory.mktemp("local")
    silent = make_video(d / "silent.mp4", width=320, height=240, seconds=3, cuts=2, audio=False)
    half = d / "half_silent.mp4"
    tone = "sine=frequency=440:duration=3,volume=0:enable='gte(t,1.5)'"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-i",
            str(silent),
            "-f",
            "lavfi",
            "-i",
            tone,
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-shortest",
            str(half),
        ],
        check=True,
    )
    return {
        "two_cuts": make_video(d / "two.mp4", width=320, height=240, seconds=3, cuts=2),
        "off_brand": make_video(
            d / "off.mp4",
            width=320,
            height=180,
            seconds=4,
            cuts=3,
            background=("#2E8B57", "#6A0DAD"),
        ),
        "no_cuts": make_video(d / "none.mp4", width=320, height=240, seconds=3, cuts=0),
        "silent": silent,
        "half_silent": half,
        "image": make_image(d / "i.jpg", width=400, height=400),
        "corrupt": make_corrupt(d / "corrupt.mp4"),
        "text": make_video(d / "text.mp4", width=640, height=360, seconds=2, text="SUMMER SALE"),
        "faces": _faces_image(d / "faces.png"),
    }


def _faces_image(path: Path) -> Path:
    """Write a still with two drawn faces side by side."""
    image = np.full((360, 640, 3), (200, 190, 170), np.uint8)
    image = draw_face(draw_face(image, 180, 150, 55), 460, 170, 50)
    cv2.imwrite(str(path), image)
    return path


def _request(path: Path, kind: MediaKind = "video") -> AnalysisRequest:
    event = make.uploaded(
        object_key="media/2025/01/01/x", size_bytes=path.stat().st_size or 1, media_kind=kind
    )
    return AnalysisRequest(path=path, event=event, producer="test-worker")


def test_cuts_shots_and_audio_of_a_known_clip(media: dict[str, Path]) -> None:
    t = analyze_file(media["two_cuts"], None, LIMITS, 8)
    assert t.shot_count == 3
    assert t.scene_cuts_s == pytest.approx(cut_times(3, 2), abs=0.2)
    assert t.mean_shot_s == pytest.approx(1.0, abs=0.05)
    assert t.audio_present is True
    assert t.loudness_lufs is not None and -30 < t.loudness_lufs < -15  # lavfi sine: 1/8 FS
    assert t.silence_ratio == 0.0
    assert t.motion is not None and 0 < t.motion < 0.05  # a moving ball, cuts excluded
    assert t.brightness is not None and 0.3 < t.brightness < 0.8
    assert t.colourfulness is not None and t.colourfulness > 50  # saturated red
    assert t.sharpness is not None and t.sharpness > 0
    assert t.faces_max == 0 and t.text_coverage == 0.0  # a ball is neither a face nor text
    assert t.thumbnail_key is None  # analyze_file stores nothing


def test_cuts_between_similar_luma_colours(media: dict[str, Path]) -> None:
    t = analyze_file(media["off_brand"], None, LIMITS, 8)
    assert t.shot_count == 4
    assert t.scene_cuts_s == pytest.approx(cut_times(4, 3), abs=0.2)


def test_motion_without_cuts_is_one_shot(media: dict[str, Path]) -> None:
    t = analyze_file(media["no_cuts"], None, LIMITS, 8)
    assert (t.shot_count, t.scene_cuts_s) == (1, [])
    assert t.mean_shot_s == pytest.approx(3.0, abs=0.05)
    assert t.motion is not None and t.motion > 0


def test_no_audio_track_and_half_silence(media: dict[str, Path]) -> None:
    silent = analyze_file(media["silent"], None, LIMITS, 8)
    assert (silent.audio_present, silent.loudness_lufs, silent.silence_ratio) == (False, None, None)
    half = analyze_file(media["half_silent"], None, LIMITS, 8)
    assert half.audio_present is True
    assert half.silence_ratio == pytest.approx(0.5, abs=0.08)


def test_image_has_nulls_for_video_only_measures(media: dict[str, Path]) -> None:
    t = analyze_file(media["image"], None, LIMITS, 8)
    assert t.scene_cuts_s == []
    assert (t.shot_count, t.mean_shot_s, t.motion) == (None, None, None)
    assert (t.audio_present, t.loudness_lufs, t.silence_ratio) == (None, None, None)
    assert t.brightness is not None and t.colourfulness is not None and t.sharpness is not None


def test_text_coverage_and_faces(media: dict[str, Path]) -> None:
    text = analyze_file(media["text"], None, LIMITS, 8)
    assert text.text_coverage is not None and 0.02 < text.text_coverage < 0.2
    assert text.faces_max == 0
    faces = analyze_file(media["faces"], None, LIMITS, 8)
    assert (faces.faces_max, faces.text_coverage) == (2, 0.0)
    assert faces.shot_count is None  # still an image


def test_analyze_media_returns_a_320_px_thumbnail(media: dict[str, Path]) -> None:
    result = analyze_media(media["text"], None, LIMITS, 8)
    assert result.thumbnail is not None
    assert jpeg_shape(result.thumbnail) == (180, 320, 3)
    image = analyze_media(media["image"], None, LIMITS, 8)
    assert image.thumbnail is not None and image.info.kind == "image"


def test_detect_cuts_ignores_steady_fast_motion() -> None:
    steady = [(i / 30, 8.0 + (i % 3)) for i in range(90)]
    assert detect_cuts(steady) == []
    spiky = [(t, 40.0 if i == 45 else v) for i, (t, v) in enumerate(steady)]
    assert detect_cuts(spiky) == [45]
    flash = [(i / 30, 30.0 if i in (20, 21) else 0.2) for i in range(60)]
    assert detect_cuts(flash) == [20]  # the frame after a flash is not a second shot


async def test_analyze_fills_the_event(media: dict[str, Path]) -> None:
    request = _request(media["two_cuts"])
    result = await LocalAnalyzer(LIMITS).analyze(request)
    assert result.status == "done" and result.error is None
    assert (result.analyzer, result.model, result.prompt_version) == ("local", None, None)
    assert result.media_id == request.event.media_id
    assert result.source.event_id == request.event.event_id
    assert result.producer == "test-worker"
    assert result.media == probe(media["two_cuts"], LIMITS)
    assert result.technical is not None and result.technical.shot_count == 3
    assert result.usage.cost_usd == 0.0 and result.usage.input_tokens is None
    assert result.cached is False and result.latency_ms > 0


async def test_thumbnail_key_comes_from_the_sink(media: dict[str, Path]) -> None:
    store = MemoryStore()

    async def put(media_id: UUID, jpeg: bytes) -> str:
        key = f"thumbs/{media_id}.jpg"
        store.put_bytes(key, jpeg)
        return key

    request = _request(media["text"])
    result = await LocalAnalyzer(LIMITS, frames=4, thumbnails=put).analyze(request)
    assert result.technical is not None
    assert result.technical.thumbnail_key == f"thumbs/{request.event.media_id}.jpg"
    stored = store.get_bytes(result.technical.thumbnail_key)
    assert jpeg_shape(stored) == (180, 320, 3)


async def test_a_failing_sink_leaves_the_key_null(media: dict[str, Path]) -> None:
    async def broken(media_id: UUID, jpeg: bytes) -> str:
        raise StorageError("bucket down")

    result = await LocalAnalyzer(LIMITS, frames=4, thumbnails=broken).analyze(
        _request(media["text"])
    )
    assert result.status == "done" and result.technical is not None
    assert result.technical.thumbnail_key is None and result.technical.text_coverage


@pytest.mark.parametrize("name", ["corrupt", "html"])
async def test_unreadable_media_give_a_failed_analysis(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    path = media.get(name) or tmp_path / "page.mp4"
    if name == "html":
        path.write_bytes(b"<html><body>not a video</body></html>")
    result = await LocalAnalyzer(LIMITS).analyze(_request(path))
    assert result.status == "failed"
    assert result.error is not None and "Traceback" not in result.error
    assert ("moov atom not found" if name == "corrupt" else "HTML page") in result.error
    assert result.technical is None and result.media is None


async def test_runs_in_a_process_pool(media: dict[str, Path]) -> None:
    with ProcessPoolExecutor(1) as pool:
        analyzer = LocalAnalyzer(LIMITS, executor=pool, frames=4)
        video, image = (
            await analyzer.analyze(_request(media["two_cuts"])),
            await analyzer.analyze(_request(media["image"], "image")),
        )
        await analyzer.aclose()
    assert video.status == "done" and video.technical is not None
    assert video.technical.shot_count == 3
    assert image.status == "done" and image.media is not None and image.media.kind == "image"


async def test_registry_builds_by_name(tmp_path: Path) -> None:
    local = create_analyzer(Settings(analyzer=AnalyzerSettings(name="local")))
    assert isinstance(local, LocalAnalyzer) and local.name == "local"
    assert create_analyzer(Settings()).name == "local"  # no Gemini key: auto means local
    keyed = Settings(
        gemini=GeminiSettings(api_key=SecretStr("k"), base_url="http://127.0.0.1:9"),
        store=StoreSettings(url=f"file://{tmp_path}"),
    )
    gemini = create_analyzer(keyed)  # imported lazily, built from settings, no call made
    assert gemini.name == "gemini"
    await gemini.aclose()
    bogus = Settings.model_construct(
        analyzer=AnalyzerSettings.model_construct(name=cast(Any, "bogus"))
    )
    with pytest.raises(ValueError, match="unknown analyzer 'bogus'"):
        create_analyzer(bogus)
