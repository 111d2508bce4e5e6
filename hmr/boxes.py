"""Moved to ``hmr.pose2d.boxes``; this module re-exports its names for old imports."""

from hmr.pose2d.boxes import (  # noqa: F401
    COCO_OKS_SIGMAS,
    Detections,
    Detector,
    IoUTracker,
    KeypointBoxTracker,
    box_iou,
    keypoint_oks,
    load_boxes_file,
    load_detector,
    no_detections,
    run_detector,
    track_summary,
)

__all__ = [
    "COCO_OKS_SIGMAS",
    "Detections",
    "Detector",
    "IoUTracker",
    "KeypointBoxTracker",
    "box_iou",
    "keypoint_oks",
    "load_boxes_file",
    "load_detector",
    "no_detections",
    "run_detector",
    "track_summary",
]
