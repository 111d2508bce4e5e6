"""Moved to ``hmr.pose2d.keypoints_io``; this module re-exports its names for old imports."""

from hmr.pose2d.keypoints_io import (  # noqa: F401
    Keypoints2D,
    boxes_from_keypoints,
    empty_keypoints,
    load_coco_keypoints,
    load_keypoints2d,
    load_keypoints_file,
    load_openpose_folder,
    plausible_keypoints,
    save_coco_keypoints,
    save_keypoints2d,
    save_vp3d_custom,
)

__all__ = [
    "Keypoints2D",
    "boxes_from_keypoints",
    "empty_keypoints",
    "load_coco_keypoints",
    "load_keypoints2d",
    "load_keypoints_file",
    "load_openpose_folder",
    "plausible_keypoints",
    "save_coco_keypoints",
    "save_keypoints2d",
    "save_vp3d_custom",
]
