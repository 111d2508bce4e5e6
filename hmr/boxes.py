"""Moved to ``hmr.pose2d.boxes``; this module re-exports its names for old imports."""

from hmr.pose2d.boxes import (  # noqa: F401
    COCO_OKS_SIGMAS,
    Detections,
    no_detections,
    load_boxes_file,
    KeypointBoxTracker,
    Detector,
    load_detector,
    run_detector,
    box_iou,
    keypoint_oks,
    IoUTracker,
    track_summary,
)

__all__ = ['COCO_OKS_SIGMAS', 'Detections', 'no_detections', 'load_boxes_file', 'KeypointBoxTracker', 'Detector', 'load_detector', 'run_detector', 'box_iou', 'keypoint_oks', 'IoUTracker', 'track_summary']
