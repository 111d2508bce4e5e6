"""Cameras, projections, person boxes and crop transforms.

Camera frame: x right, y down, z forward (OpenCV). 3D points are in metres, 2D points in pixels
unless a name says `normalized`, focal lengths in pixels, angles in degrees only where the
official code they reproduce takes degrees (`rot_deg`, `rot`).

Four families of helpers, one module each; every name is imported from here
(``from body_models.cameras import perspective_project``):

- ``projections``: HMR's and SPIN's cameras (`weak_perspective_project`, `perspective_project`,
  `weak_perspective_to_translation`, `crop_camera_to_full_image`, `full_image_to_crop_camera`):
  torch tensors or numpy arrays, any leading dimensions; the output has the array type, dtype and
  device of `points` (or `cam`).
- ``boxes``: person boxes (`box_xyxy_to_xywh`, `box_xywh_to_xyxy`, `box_to_center_scale`,
  `box_to_center_scale_square`, `center_scale_to_box`): numpy, vectorised over leading
  dimensions. "Scale" is the box size in units of 200 pixels (`PIXEL_STD`), as in HRNet and SPIN.
- ``crops``: HRNet's affine crop (`get_affine_transform`, `affine_transform_points`) and SPIN's
  (`spin_crop_transform`, `spin_transform_points`), numpy, float64.
- ``h36m``: Human3.6M's cameras as VideoPose3D uses them (`world_to_camera`, `camera_to_world`,
  `normalize_screen_coordinates`, `image_coordinates`, `project_to_2d`, `project_to_2d_linear`),
  numpy or torch.

``arrays`` holds what they share: the `ArrayLike` type and the numpy-or-torch conversions.
"""

from body_models.cameras.arrays import ArrayLike
from body_models.cameras.boxes import (PIXEL_STD, box_to_center_scale, box_to_center_scale_square, box_xywh_to_xyxy,
                                       box_xyxy_to_xywh, center_scale_to_box)
from body_models.cameras.crops import (affine_transform_points, get_affine_transform, spin_crop_transform,
                                       spin_transform_points)
from body_models.cameras.h36m import (camera_to_world, image_coordinates, normalize_screen_coordinates, project_to_2d,
                                      project_to_2d_linear, world_to_camera)
from body_models.cameras.projections import (SPIN_CROP_SIZE, SPIN_FOCAL_LENGTH, crop_camera_to_full_image,
                                             full_image_to_crop_camera, perspective_project,
                                             weak_perspective_project, weak_perspective_to_translation)

__all__ = [
    "ArrayLike",
    "PIXEL_STD",
    "SPIN_CROP_SIZE",
    "SPIN_FOCAL_LENGTH",
    "affine_transform_points",
    "box_to_center_scale",
    "box_to_center_scale_square",
    "box_xywh_to_xyxy",
    "box_xyxy_to_xywh",
    "camera_to_world",
    "center_scale_to_box",
    "crop_camera_to_full_image",
    "full_image_to_crop_camera",
    "get_affine_transform",
    "image_coordinates",
    "normalize_screen_coordinates",
    "perspective_project",
    "project_to_2d",
    "project_to_2d_linear",
    "spin_crop_transform",
    "spin_transform_points",
    "weak_perspective_project",
    "weak_perspective_to_translation",
    "world_to_camera",
]
