"""Moved to ``hmr.io.video``; this module re-exports its names for old imports."""

from hmr.io.video import (  # noqa: F401
    ENCODE_CRF,
    ENCODE_PRESET,
    IMAGE_SUFFIXES,
    PREFETCH_FRAMES,
    VFR_TICKS_PER_S,
    VideoFrame,
    VideoInfo,
    VideoWriter,
    iter_batches,
    iter_frames,
    prefetch,
    probe_video,
    read_frame,
    write_video,
)

__all__ = [
    "ENCODE_CRF",
    "ENCODE_PRESET",
    "IMAGE_SUFFIXES",
    "PREFETCH_FRAMES",
    "VFR_TICKS_PER_S",
    "VideoFrame",
    "VideoInfo",
    "VideoWriter",
    "iter_batches",
    "iter_frames",
    "prefetch",
    "probe_video",
    "read_frame",
    "write_video",
]
