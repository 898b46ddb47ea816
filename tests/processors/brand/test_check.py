"""`check_media` end to end on media made with ffmpeg, and `check_frames` on frames in memory."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from processors.brand import CHECKS_VERSION, check_frames, check_media
from processors.media import Frame
from processors.media.limits import LimitSettings
from processors.synthetic import brand as synth
from processors.synthetic import events as make
from processors.synthetic import samples
from schemas.events import BrandCheck, MediaUploaded
from schemas.fields import Platform
from schemas.profiles import BrandProfile
from tests.helpers import make_branded_clip, png_declaring

LIMITS = LimitSettings(decode_timeout_s=60)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A logo, an on-brand vertical clip with it, an off-brand landscape clip, an image, junk."""
    folder = tmp_path_factory.mktemp("brand_media")
    logo = samples.make_logo(folder / "logo.png")
    return {
        "logo": logo,
        "on_brand": make_branded_clip(folder / "on_brand.mp4", logo),
        "off_brand": samples.make_video(
            folder / "off_brand.mp4",
            width=640,
            height=360,
            seconds=2,
            background=samples.OFF_BRAND_COLOURS,
            cuts=1,
            audio=False,
        ),
        "image": samples.make_image(
            folder / "still.jpg",
            width=480,
            height=480,
            logo=logo,
            logo_pos=(0.05, 0.05),
            logo_scale=0.2,
        ),
        "corrupt": samples.make_corrupt(folder / "corrupt.mp4"),
    }


def profile(**changes: object) -> BrandProfile:
    """Version 4 of `acme`, for YouTube, with one logo."""
    base = {"version": 4, "platforms": ["youtube"], "logos": ["brands/acme/logo.png"]}
    return make.profile(**(base | changes))


def event(platforms: list[Platform] | None = None, brand: str | None = "acme") -> MediaUploaded:
    return make.uploaded(brand_id=brand, platforms=platforms or [])


def test_on_brand_clip_is_checked_in_full(media: dict[str, Path]) -> None:
    ev = event(["instagram_reels"])
    result = check_media(media["on_brand"], ev, profile(), [media["logo"].read_bytes()], LIMITS)
    assert result.status == "done" and result.error is None
    assert result.media_id == ev.media_id and result.source.event_id == ev.event_id
    assert result.checks_version == CHECKS_VERSION and result.brand_version == 4
    assert result.media is not None and (result.media.width, result.media.height) == (360, 640)
    assert result.frames_sampled >= 1 and result.processing_ms > 0
    assert result.palette is not None and result.palette.status == "ok"
    assert (result.palette.on_palette_ratio or 0) > 0.5
    assert result.logo is not None and result.logo.found is True
    assert result.logo.bbox is not None
    assert abs(result.logo.bbox[0] - 0.35) < 0.03 and abs(result.logo.bbox[1] - 0.4) < 0.03
    assert result.logo.screen_share == 1.0 and result.logo.first_seen_s == 0.0
    assert set(result.platforms) == {"instagram_reels"}  # the event's platforms win
    reels = result.platforms["instagram_reels"]  # 360×640 is under Meta's 500 px minimum
    assert not reels.ok and [p.split(":")[0] for p in reels.problems] == ["resolution"]
    assert result.quality is not None and result.quality.status == "ok"
    assert result.score is not None and 0.6 <= result.score < 0.8  # platforms scored 0
    assert result.verdict == "warn"
    assert BrandCheck.model_validate_json(result.to_bytes()) == result


def test_off_brand_clip_fails(media: dict[str, Path]) -> None:
    result = check_media(
        media["off_brand"], event(), profile(), [media["logo"].read_bytes()], LIMITS
    )
    assert result.status == "done"
    codes = {v.code for v in result.violations}
    assert {"palette.low_coverage", "logo.missing"} <= codes
    assert set(result.platforms) == {"youtube"}  # from the profile
    assert result.verdict == "fail"


def test_without_a_brand_only_quality_and_platforms_run(media: dict[str, Path]) -> None:
    result = check_media(media["on_brand"], event(["tiktok"], brand=None), None, [], LIMITS)
    assert result.status == "done" and result.brand_version is None
    assert result.palette is not None and result.palette.status == "skipped"
    assert result.logo is not None and result.logo.status == "skipped"
    assert "no brand profile" in (result.logo.reason or "")
    assert result.quality is not None and result.quality.status == "ok"
    assert set(result.platforms) == {"tiktok"} and result.verdict is not None


def test_profile_without_palette_or_logos_skips_those_checks(media: dict[str, Path]) -> None:
    result = check_media(media["image"], event(), profile(palette=[], logos=[]), [], LIMITS)
    assert result.palette is not None and result.palette.status == "skipped"
    assert "palette" in (result.palette.reason or "")
    assert result.logo is not None and result.logo.status == "skipped"
    assert "logo" in (result.logo.reason or "")
    assert result.media is not None and result.media.kind == "image"
    assert result.frames_sampled == 1


def test_profile_logos_that_were_not_loaded_fail_the_logo_check(media: dict[str, Path]) -> None:
    result = check_media(media["image"], event(), profile(), [], LIMITS)
    assert result.logo is not None and result.logo.status == "failed"
    assert "lists 1 logo" in (result.logo.reason or "")
    assert result.verdict != "pass"


@pytest.mark.parametrize(
    ("logo", "reason"),
    [
        (b"GIF89a-not-really", "not a PNG, JPEG or WebP"),
        (
            png_declaring(100_000, 100_000),
            "declares 100000x100000",
        ),  # stored before the API checked
    ],
)
def test_unreadable_logo_fails_the_logo_check_only(
    media: dict[str, Path], logo: bytes, reason: str
) -> None:
    result = check_media(media["image"], event(), profile(), [logo], LIMITS)
    assert result.status == "done"
    assert result.logo is not None and result.logo.status == "failed"
    assert "logo 1 of 1" in (result.logo.reason or "")
    assert reason in (result.logo.reason or "")
    assert result.palette is not None and result.palette.status == "ok"
    assert result.verdict != "pass"


@pytest.mark.parametrize("name", ["corrupt", "text"])
def test_unreadable_media_is_a_failed_result_not_an_exception(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    path = media["corrupt"] if name == "corrupt" else tmp_path / "notes.mp4"
    if name == "text":
        path.write_text("this is not a video\n" * 50)
    ev = event()
    result = check_media(path, ev, profile(), [media["logo"].read_bytes()], LIMITS)
    assert result.status == "failed"
    assert result.error and len(result.error) < 300
    assert result.verdict is None and result.frames_sampled == 0
    assert result.media_id == ev.media_id and result.checks_version == CHECKS_VERSION


def test_generated_media_event_and_process_pool(media: dict[str, Path]) -> None:
    from schemas.events import Generation

    ev = make.generated(
        producer="gen",
        object_key="media/y",
        sha256="1" * 64,
        content_type="image/jpeg",
        media_kind="image",
        brand_id="acme",
        generation=Generation(prompt="a red badge", model="m"),
    )
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        future = pool.submit(
            check_media, media["image"], ev, profile(), [media["logo"].read_bytes()], LIMITS
        )
        result = future.result(timeout=120)
    assert result.status == "done" and result.source.schema_id == "reelscope.media.generated/1"
    assert result.logo is not None and result.logo.found


def test_check_frames_on_frames_in_memory() -> None:
    rng = np.random.default_rng(4)
    badge = synth.badge_logo()
    frames = []
    for t in (0.0, 1.0, 2.0):
        img = synth.artwork(512, 910, rng, ["#E4002B", "#FFFFFF"], [], 0.0, "#E4002B")[0]
        if t > 0:
            synth.composite(img, badge, 380, 760, 100)
        frames.append(Frame(t, img))
    info = make.video_info(seconds=3.0, size_bytes=5_000_000)
    parts = check_frames(
        frames,
        info,
        profile(logo_zones=["bottom_right"]),
        [badge],
        ["instagram_reels", "youtube_shorts"],
    )
    assert parts.logo.found and parts.logo.first_seen_s == 1.0
    assert parts.logo.screen_share == pytest.approx(2 / 3, abs=1e-3)
    assert parts.logo.in_allowed_zone is True
    unsafe = {v.code for v in parts.violations if v.code.endswith("logo_in_unsafe_zone")}
    assert unsafe == {
        "platform.instagram_reels.logo_in_unsafe_zone",
        "platform.youtube_shorts.logo_in_unsafe_zone",
    }
    assert set(parts.scores) == {"palette", "logo", "quality", "platforms"}
    with pytest.raises(ValueError, match="no frames"):
        check_frames([], info, None, [], [])
