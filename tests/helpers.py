"""What more than one test module makes the same way (events: `processors.synthetic.events`)."""

from __future__ import annotations

from pathlib import Path

from processors.synthetic import samples


def make_branded_clip(path: Path, logo: Path, *, audio: bool = True) -> Path:
    """A 2 s 360x640 clip with one cut and `logo`, a quarter of its width, at (0.35, 0.4)."""
    return samples.make_video(
        path,
        width=360,
        height=640,
        seconds=2,
        logo=logo,
        logo_pos=(0.35, 0.4),
        logo_scale=0.25,
        cuts=1,
        audio=audio,
    )
