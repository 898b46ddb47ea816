"""OpenCV's decoders are capped at `limits.max_pixels` in every reelscope process: a picture
declaring more pixels is refused from its header, before OpenCV allocates it.

OpenCV reads the cap when its library loads, so `processors` must be imported before `cv2`
(every product module that decodes is in `processors`, whose package sets it first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from processors.media.limits import LimitSettings

ROOT = Path(__file__).resolve().parents[3]
# decodes a 2000x2000 PNG (4 Mpx, a few kB) as a logo and as a still, under a 1 Mpx cap
CHILD = """
from processors.brand.templates import LogoDecodeError, decode_logo  # first, as in the product
import cv2, numpy as np, pathlib, sys
from processors.errors import MediaError
from processors.media.limits import LimitSettings
from processors.media.still import read_still
ok, png = cv2.imencode(".png", np.full((2000, 2000, 3), 200, np.uint8))
try:
    decode_logo(png.tobytes())
except LogoDecodeError as e:
    print("logo:", e)
still = pathlib.Path(sys.argv[1])
still.write_bytes(png.tobytes())
try:
    read_still(still, LimitSettings(max_pixels=10**8), 320)  # past our own header check
except MediaError as e:
    print("still:", e)
ok, small = cv2.imencode(".png", np.full((500, 500, 3), 200, np.uint8))
print("small:", cv2.imdecode(small, cv2.IMREAD_COLOR).shape)
"""


def test_this_process_caps_opencv_at_the_default_limit() -> None:
    assert os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] == str(LimitSettings().max_pixels)


def test_a_picture_past_the_configured_cap_is_refused_readably(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    env |= {"REELSCOPE_LIMITS__MAX_PIXELS": "1000000", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "big.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "logo: logo is not a readable image" in out
    assert "larger than the limit of 1000000 pixels" in out
    assert "still: the media could not be decoded: OpenCV refused it" in out
    assert "small: (500, 500, 3)" in out  # below the cap: decoded as before
