"""Media that lie: a duration too short or missing, a codec we do not decode.

The files are made here with the bundled ffmpeg and then edited the way a hostile producer
would; each test first shows that the lie is there (what the container claims), then that the
probe refuses the file with a sentence a person can act on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.errors import MediaError, MediaLimitExceeded
from processors.media import input_args, probe, run_limited, sample_frames
from processors.media.limits import LimitSettings
from processors.media.probe import input_section, parse_duration
from tests.helpers import encode, with_duration

LIMITS = LimitSettings(max_duration_s=3, decode_timeout_s=30)


def declared(path: Path) -> float | None:
    args = [*input_args(path, "video/mp4", LimitSettings()), "-f", "null", "-t", "0", "-"]
    _, err = run_limited(args, LimitSettings())
    return parse_duration(input_section(err))[0]


@pytest.fixture(scope="module")
def six_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    return encode(folder / "six.mp4", "-t", "6", "-c:v", "libx264", "-g", "10")


def test_a_video_that_declares_too_short_a_duration_is_refused(
    six_seconds: Path, tmp_path: Path
) -> None:
    liar = with_duration(six_seconds, tmp_path / "liar.mp4", 1 / 6)
    assert declared(liar) == pytest.approx(1.0, abs=0.1)  # the lie: 1 s, under the 3 s cap
    with pytest.raises(MediaLimitExceeded, match=r"video is 4 s long \(it declares 1\.0 s\)"):
        probe(liar, LIMITS)  # read up to the cap and a second past it: 4 s, not all 6
    assert probe(liar, LimitSettings()).duration_s == pytest.approx(6, abs=0.5)


def test_a_video_that_declares_no_duration_is_measured(six_seconds: Path, tmp_path: Path) -> None:
    silent = with_duration(six_seconds, tmp_path / "silent.mp4", 0)
    assert declared(silent) is None
    with pytest.raises(MediaLimitExceeded, match=r"\(it declares no duration\); the limit is 3 s"):
        probe(silent, LIMITS)
    within = probe(silent, LimitSettings(max_duration_s=10))
    assert within.duration_s == pytest.approx(6, abs=0.5)


def test_an_honest_video_keeps_its_duration(six_seconds: Path) -> None:
    assert probe(six_seconds, LimitSettings()).duration_s == pytest.approx(6, abs=0.05)


def test_a_codec_outside_the_list_is_refused_by_name_and_never_decoded(tmp_path: Path) -> None:
    mpeg2 = encode(tmp_path / "old.mkv", "-t", "2", "-c:v", "mpeg2video")
    with pytest.raises(MediaLimitExceeded, match="the codec mpeg2video is not one we decode"):
        probe(mpeg2, LimitSettings())
    accepted = probe(mpeg2, LimitSettings(codecs=("mpeg2video",)))
    assert accepted.codec == "mpeg2video"  # the control: the file itself is fine
    info = accepted.model_copy()
    with pytest.raises(MediaError):  # past the probe, ffmpeg has no decoder for it either
        sample_frames(mpeg2, info, 2, LimitSettings())
