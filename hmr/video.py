"""Moved to ``hmr.io.video``; this module re-exports its names for old imports."""

from hmr.io.video import (  # noqa: F401
    IMAGE_SUFFIXES,
    VFR_TICKS_PER_S,
    ENCODE_PRESET,
    ENCODE_CRF,
    VideoInfo,
    VideoFrame,
    probe_video,
    iter_frames,
    PREFETCH_FRAMES,
    prefetch,
    iter_batches,
    read_frame,
    VideoWriter,
    write_video,
)

__all__ = ['IMAGE_SUFFIXES', 'VFR_TICKS_PER_S', 'ENCODE_PRESET', 'ENCODE_CRF', 'VideoInfo', 'VideoFrame', 'probe_video', 'iter_frames', 'PREFETCH_FRAMES', 'prefetch', 'iter_batches', 'read_frame', 'VideoWriter', 'write_video']
