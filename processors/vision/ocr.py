"""Offline OCR: RapidOCR, its text detector PP-OCRv4 mobile, its recogniser PP-OCRv6 small.

Both come inside PyPI wheels: the recogniser (and the unused orientation classifier) in `rapidocr`,
the detector in `rapidocr_onnxruntime` 1.4.4, installed with `--no-deps` for its model files only
(its code and its `opencv-python` dependency are not used) and located without importing it. The
v4 mobile detector reads as many lines as `rapidocr`'s own PP-OCRv6 small one at 0.28 of its
CPU (37 against 135 ms for a 512x288 frame), and the detector is most of the OCR's cost:
`bench/bench_ocr.py` reads 205 of 232 written lines with either, at 111 against 254 ms a
frame. Each file is named by path, so RapidOCR's download branch (taken only when no
`model_path` is given) is never reached: nothing is fetched at run time. onnxruntime runs on one
thread, as the rest of the CPU work does (one process per core). Calls are serialised by a lock,
since RapidOCR keeps per-call options on the engine. Orientation classification is off: overlay
text in social media is upright.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from processors.vision.packages import package_dir

MODEL_FILES = {  # stage: (package, file in its models/ folder)
    "Det": ("rapidocr_onnxruntime", "ch_PP-OCRv4_det_infer.onnx"),
    "Rec": ("rapidocr", "PP-OCRv6_rec_small.onnx"),
    "Cls": ("rapidocr", "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
}
MIN_SCORE = 0.5  # recognition confidence below which a detected box is dropped
MIN_CHARS = 2  # letters or digits a line needs: discs and rings are read as "O" (0.6-0.98), bars
# as "1" (in 25 of 120 frames of shapes alone), by either detector; no caption is one glyph
MAX_LINE_HEIGHT = 0.4  # share of the frame height; taller "lines" are shapes misread as text
_LOCK = threading.Lock()
BBox = tuple[float, float, float, float]


class TextBox(NamedTuple):
    """One line of text: what it says, how sure the recogniser is, where it is (x, y, w, h 0–1)."""

    text: str
    score: float
    bbox: BBox


def model_paths() -> dict[str, Path]:
    """Locate the model files inside the installed packages, without importing them; refuse to
    go without."""
    paths = {
        stage: (package_dir(package) or Path("/nonexistent", package)) / "models" / name
        for stage, (package, name) in MODEL_FILES.items()
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        msg = (
            f"OCR model files missing (no download): {missing}; `deploy/install.sh` installs "
            "rapidocr, and rapidocr_onnxruntime with --no-deps"
        )
        raise FileNotFoundError(msg)
    return paths


@functools.cache
def _engine() -> Any:
    """Build the process-wide engine from the bundled models, single-threaded, quiet."""
    from rapidocr import RapidOCR

    params: dict[str, Any] = {f"{s}.model_path": str(p) for s, p in model_paths().items()}
    params |= {
        "Global.log_level": "error",
        "Global.use_cls": False,
        "Global.text_score": MIN_SCORE,
        "Det.limit_type": "max",  # never upscale our small frames; shrink 9:16 ones to 736 px
        "Det.limit_side_len": 736,  # (a 512x910 frame: 3x faster, same lines read)
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    return RapidOCR(params=params)


def _bbox(quad: npt.NDArray[np.float64], width: int, height: int) -> BBox:
    """Turn a detected quadrilateral (pixels) into a normalised, clipped x, y, w, h."""
    x0, y0 = max(0.0, float(quad[:, 0].min())), max(0.0, float(quad[:, 1].min()))
    x1, y1 = min(float(width), float(quad[:, 0].max())), min(float(height), float(quad[:, 1].max()))
    return (x0 / width, y0 / height, max(0.0, x1 - x0) / width, max(0.0, y1 - y0) / height)


def read_text(image_bgr: npt.NDArray[np.uint8]) -> list[TextBox]:
    """Read the text lines of one BGR image, top to bottom; an empty list if there is none."""
    height, width = image_bgr.shape[:2]
    engine = _engine()
    with _LOCK:
        out = engine(np.ascontiguousarray(image_bgr))
    if out.boxes is None or out.txts is None or out.scores is None:
        return []
    found = []
    for quad, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
        if sum(c.isalnum() for c in str(text)) < MIN_CHARS:
            continue  # a shape read as a lone glyph or punctuation (a disc: "O", "。"): not text
        box = _bbox(np.asarray(quad, np.float64), width, height)
        if box[3] > MAX_LINE_HEIGHT:
            continue  # a "line" taller than 40 % of the frame is a shape, not text
        found.append(TextBox(str(text), round(float(score), 4), box))
    return sorted(found, key=lambda b: (round(b.bbox[1], 2), b.bbox[0]))


def text_coverage(boxes: list[TextBox]) -> float:
    """Share of the frame covered by the union of the boxes (overlaps counted once), 0–1."""
    rects = [(x, y, x + w, y + h) for x, y, w, h in (b.bbox for b in boxes) if w > 0 and h > 0]
    if not rects:
        return 0.0
    arr = np.clip(np.array(rects, np.float64), 0.0, 1.0)
    xs, ys = np.unique(arr[:, [0, 2]]), np.unique(arr[:, [1, 3]])
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2  # a point inside each grid cell
    inside_x = (arr[:, None, 0] <= cx) & (cx < arr[:, None, 2])  # boxes x cells
    inside_y = (arr[:, None, 1] <= cy) & (cy < arr[:, None, 3])
    covered = (inside_x.T.astype(np.int32) @ inside_y.astype(np.int32)) > 0  # cell (i, j)
    area = np.outer(np.diff(xs), np.diff(ys))
    return round(float(area[covered].sum()), 5)
