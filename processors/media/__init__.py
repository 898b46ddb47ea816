"""Untrusted media, handled safely: type from magic bytes (`sniff`), probe and decode in
limited ffmpeg children (`ffmpeg`, `probe`, `frames`), under hard limits (`limits`)."""

from processors.media.ffmpeg import ffmpeg_exe, input_args, run_limited
from processors.media.frames import Frame, frame_size, sample_frames
from processors.media.limits import LimitSettings
from processors.media.probe import probe
from processors.media.sniff import DEMUXERS, image_size, sniff

__all__ = [
    "DEMUXERS",
    "Frame",
    "LimitSettings",
    "ffmpeg_exe",
    "frame_size",
    "image_size",
    "input_args",
    "probe",
    "run_limited",
    "sample_frames",
    "sniff",
]
