"""Platform fit: does the asset meet each platform's format rules, and is the logo clear of its UI?

The table below is a snapshot of published specs (`PLATFORM_SPECS_VERSION`); platforms change
them, so it is versioned and every result can say which table judged it. Figures and sources:
- Meta (Instagram Reels/Stories/Feed): Reels 9:16 (4:5 also shown), ≥ 500 px wide, ≤ 4 GB,
  up to 3 min since Jan 2025; Stories 9:16, ≤ 60 s per story; Feed 4:5 to 1.91:1, ≥ 600 px wide
  (Instagram Ads API media requirements); images ≤ 30 MB; aspect tolerance 1–3 % (Meta ads guide).
  Safe zones: Reels keep clear of the top 14 %, bottom 35 % and 6 % at each side; Stories about
  250 px of 1920 (14 %) top and bottom (Meta Business Help Center, as compiled by
  houseofmarketers.com and stish.app).
- TikTok: 9:16 preferred, 1:1 and 16:9 accepted, ≥ 540 px on the short side, ≤ 10 min and
  ≤ 500 MB in Ads Manager, ≥ 24 fps; keep clear of the top 150 px, bottom 440 px and 150 px at each
  side of 1080×1920 (TikTok Business Help Center via adfuseai.com / exflite.com).
- YouTube Shorts: 9:16 or 1:1, up to 3 min since Oct 2024; the title, channel and subscribe
  button take about the bottom 25 % (480 px), the action column the right edge, and the top bar
  about 15 % (youraithumbnailgenerator.com, getkoro.app "middle 1080×1350").
- YouTube: any shape (16:9 preferred), ≥ 426×240, ≤ 12 h and 256 GB; no overlay on the picture.
- LinkedIn: 1:2.4 to 2.4:1, 256×144 to 4096×2304, ≤ 15 min, ≤ 5 GB, 10–60 fps.
What each platform asks of an AI-generated asset, with its sources: `processors.brand.ai_labels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.events import MediaInfo, PlatformFit, Violation
from schemas.fields import MediaKind, Platform

PLATFORM_SPECS_VERSION = "platform-specs/2026-12"  # 2026-12: AI labels (`ai_labels`)
ASPECT_TOLERANCE = 0.03  # relative
UNSAFE_MAX_SHARE = 0.10  # share of the logo's box that may lie under a platform's UI
GB, MB = 1024**3, 1024**2


@dataclass(frozen=True)
class SafeZone:
    """Margins, as shares of the frame, that the platform's UI may cover."""

    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0


@dataclass(frozen=True)
class PlatformSpec:
    """What one platform accepts (fail if not met) and prefers (warn if not met)."""

    kinds: frozenset[MediaKind]
    aspect: tuple[float, float]  # accepted width/height range
    preferred: tuple[tuple[int, int], ...]
    min_size: tuple[int, int]  # width, height
    max_duration_s: float | None
    max_video_bytes: int | None
    max_image_bytes: int | None
    fps: tuple[float, float]
    audio_expected: bool
    safe: SafeZone = SafeZone()


VIDEO: frozenset[MediaKind] = frozenset({"video"})
ANY: frozenset[MediaKind] = frozenset({"image", "video"})

PLATFORM_SPECS: dict[Platform, PlatformSpec] = {
    "instagram_reels": PlatformSpec(
        VIDEO,
        (9 / 16, 4 / 5),
        ((9, 16),),
        (500, 888),
        180,
        4 * GB,
        None,
        (23, 60),
        True,
        SafeZone(0.14, 0.35, 0.06, 0.06),
    ),
    "instagram_stories": PlatformSpec(
        ANY,
        (9 / 16, 1.91),
        ((9, 16),),
        (500, 0),
        60,
        4 * GB,
        30 * MB,
        (23, 60),
        False,
        SafeZone(0.14, 0.14, 0.03, 0.03),
    ),
    "instagram_feed": PlatformSpec(
        ANY, (4 / 5, 1.91), ((4, 5), (1, 1)), (600, 0), 3600, 4 * GB, 30 * MB, (23, 60), False
    ),
    "tiktok": PlatformSpec(
        VIDEO,
        (9 / 16, 16 / 9),
        ((9, 16),),
        (540, 540),
        600,
        500 * MB,
        None,
        (23, 60),
        True,
        SafeZone(0.08, 0.23, 0.14, 0.14),
    ),
    "youtube_shorts": PlatformSpec(
        VIDEO,
        (9 / 16, 1.0),
        ((9, 16),),
        (240, 240),
        180,
        256 * GB,
        None,
        (23, 60),
        True,
        SafeZone(0.15, 0.25, 0.06, 0.15),
    ),
    "youtube": PlatformSpec(
        VIDEO, (0.25, 4.0), ((16, 9),), (240, 240), 12 * 3600, 256 * GB, None, (23, 60), True
    ),
    "linkedin": PlatformSpec(
        ANY,
        (1 / 2.4, 2.4),
        ((1, 1), (4, 5), (16, 9), (9, 16)),
        (144, 144),
        15 * 60,
        5 * GB,
        None,
        (10, 60),
        False,
    ),
}

Box = tuple[float, float, float, float]


def fit(
    platform: Platform,
    info: MediaInfo,
    logo_boxes: Sequence[tuple[float, Box]] = (),
    text_boxes: Sequence[tuple[float, str, Box]] = (),
) -> tuple[PlatformFit, list[Violation]]:
    """Judge one platform; `ok` is False only for fail-severity problems, warnings are listed.

    `text_boxes` are where required text (a disclosure) was read: under the platform's
    interface it is as good as missing, so that is a fail.
    """
    spec = PLATFORM_SPECS[platform]
    found = [v for v in _format_problems(platform, spec, info) if v is not None]
    unsafe = next(
        (
            v
            for t, box in logo_boxes
            if (v := _logo_unsafe(platform, spec.safe, t, box)) is not None
        ),
        None,
    )
    if unsafe is not None:
        found.append(unsafe)
    found += [
        v
        for t, phrase, box in text_boxes
        if (v := _text_unsafe(platform, spec.safe, t, phrase, box)) is not None
    ]
    problems = [f"{v.code.rsplit('.', 1)[-1]}: {v.message}" for v in found]
    return PlatformFit(ok=not any(v.severity == "fail" for v in found), problems=problems), found


def _format_problems(name: str, spec: PlatformSpec, info: MediaInfo) -> list[Violation | None]:
    return [
        _kind(name, spec, info),
        *_aspect(name, spec, info),
        _resolution(name, spec, info),
        _duration(name, spec, info),
        _size(name, spec, info),
        _fps(name, spec, info),
        _audio(name, spec, info),
    ]


def _v(
    name: str,
    rule: str,
    severity: str,
    message: str,
    measured: float | str | None,
    required: float | str | None,
    **extra: object,
) -> Violation:
    return Violation.model_validate(
        {
            "code": f"platform.{name}.{rule}",
            "severity": severity,
            "message": message,
            "measured": measured,
            "required": required,
            **extra,
        }
    )


def _kind(name: str, spec: PlatformSpec, info: MediaInfo) -> Violation | None:
    if info.kind in spec.kinds:
        return None
    return _v(
        name,
        "media_kind",
        "fail",
        f"{name} does not take {info.kind}s",
        info.kind,
        "/".join(sorted(spec.kinds)),
    )


def _aspect(name: str, spec: PlatformSpec, info: MediaInfo) -> list[Violation | None]:
    ratio = info.width / info.height
    lo, hi = spec.aspect
    shape = f"{info.width}×{info.height} ({ratio:.2f})"
    wanted = " or ".join(f"{w}:{h}" for w, h in spec.preferred)
    if not lo * (1 - ASPECT_TOLERANCE) <= ratio <= hi * (1 + ASPECT_TOLERANCE):
        return [
            _v(
                name,
                "aspect_ratio",
                "fail",
                f"{shape} is outside what {name} accepts ({lo:.2f}–{hi:.2f})",
                round(ratio, 4),
                f"{lo:.4f}-{hi:.4f}",
            )
        ]
    if any(abs(ratio / (w / h) - 1) <= ASPECT_TOLERANCE for w, h in spec.preferred):
        return []
    return [
        _v(
            name,
            "aspect_ratio_not_preferred",
            "warn",
            f"{shape} will be letterboxed or cropped on {name}; it prefers {wanted}",
            round(ratio, 4),
            wanted,
        )
    ]


def _resolution(name: str, spec: PlatformSpec, info: MediaInfo) -> Violation | None:
    mw, mh = spec.min_size
    if info.width >= mw and info.height >= mh:
        return None
    return _v(
        name,
        "resolution",
        "fail",
        f"{info.width}×{info.height} is below {name}'s minimum of {mw}×{mh}",
        f"{info.width}x{info.height}",
        f"{mw}x{mh}",
    )


def _duration(name: str, spec: PlatformSpec, info: MediaInfo) -> Violation | None:
    if info.kind != "video" or spec.max_duration_s is None or info.duration_s is None:
        return None
    if info.duration_s <= spec.max_duration_s:
        return None
    return _v(
        name,
        "duration",
        "fail",
        f"{info.duration_s:.1f} s is longer than {name} allows ({spec.max_duration_s:.0f} s)",
        round(info.duration_s, 3),
        spec.max_duration_s,
    )


def _size(name: str, spec: PlatformSpec, info: MediaInfo) -> Violation | None:
    limit = spec.max_video_bytes if info.kind == "video" else spec.max_image_bytes
    if limit is None or info.size_bytes <= limit:
        return None
    return _v(
        name,
        "file_size",
        "fail",
        f"{info.size_bytes / MB:.1f} MB is more than {name} accepts ({limit / MB:.0f} MB)",
        info.size_bytes,
        limit,
    )


def _fps(name: str, spec: PlatformSpec, info: MediaInfo) -> Violation | None:
    if info.kind != "video" or info.fps is None:
        return None
    lo, hi = spec.fps
    if lo <= info.fps <= hi + 0.5:
        return None
    return _v(
        name,
        "fps",
        "warn",
        f"{info.fps:.2f} fps is outside {lo:g}–{hi:g} fps for {name}",
        round(info.fps, 3),
        f"{lo:g}-{hi:g}",
    )


def _audio(name: str, spec: PlatformSpec, info: MediaInfo) -> Violation | None:
    if info.kind != "video" or not spec.audio_expected or info.has_audio:
        return None
    return _v(
        name,
        "audio",
        "warn",
        f"the video is silent; {name} plays sound by default",
        "none",
        "audio track",
    )


def unsafe_share(safe: SafeZone, box: Box) -> float:
    """Share of the box's area that lies outside the safe area (under the platform's UI)."""
    x, y, w, h = box
    ix = max(0.0, min(x + w, 1 - safe.right) - max(x, safe.left))
    iy = max(0.0, min(y + h, 1 - safe.bottom) - max(y, safe.top))
    area = w * h
    return 1 - ix * iy / area if area > 0 else 0.0


def _text_unsafe(name: str, safe: SafeZone, t_s: float, phrase: str, box: Box) -> Violation | None:
    share = unsafe_share(safe, box)
    if share <= UNSAFE_MAX_SHARE:
        return None
    return _v(
        name,
        "text_in_unsafe_zone",
        "fail",
        f"required text {phrase!r} sits {share:.0%} under {name}'s interface",
        round(share, 4),
        UNSAFE_MAX_SHARE,
        frame_s=t_s,
        bbox=[round(v, 4) for v in box],
    )


def _logo_unsafe(name: str, safe: SafeZone, t_s: float, box: Box) -> Violation | None:
    share = unsafe_share(safe, box)
    if share <= UNSAFE_MAX_SHARE:
        return None
    return _v(
        name,
        "logo_in_unsafe_zone",
        "warn",
        f"{share:.0%} of the logo sits under {name}'s interface",
        round(share, 4),
        UNSAFE_MAX_SHARE,
        frame_s=t_s,
        bbox=list(box),
    )
