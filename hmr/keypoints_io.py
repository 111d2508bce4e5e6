"""Moved to ``hmr.pose2d.keypoints_io``; this module re-exports its names for old imports."""

from hmr.pose2d.keypoints_io import (  # noqa: F401
    boxes_from_keypoints,
    load_coco_keypoints,
    save_coco_keypoints,
    load_openpose_folder,
    load_keypoints_file,
    save_vp3d_custom,
    Keypoints2D,
    empty_keypoints,
    load_keypoints2d,
    plausible_keypoints,
    save_keypoints2d,
)

__all__ = ['boxes_from_keypoints', 'load_coco_keypoints', 'save_coco_keypoints', 'load_openpose_folder', 'load_keypoints_file', 'save_vp3d_custom', 'Keypoints2D', 'empty_keypoints', 'load_keypoints2d', 'plausible_keypoints', 'save_keypoints2d']
