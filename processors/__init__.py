"""Pure processing logic: media probing and sampling, brand checks, analyzers, storage, the lake.

Nothing here imports Faust or FastAPI, so every stage runs and tests on its own.
"""

import os

DEFAULT_MAX_PIXELS = 8192 * 8192

# OpenCV reads its decoders' pixel cap from the environment once, when its library loads, and
# defaults to 2^30 px: set it to our limit before any module here imports cv2, in every process
# (pool children inherit it). REELSCOPE_LIMITS__MAX_PIXELS, the setting's variable, wins.
os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = os.environ.get(
    "REELSCOPE_LIMITS__MAX_PIXELS", str(DEFAULT_MAX_PIXELS)
)
