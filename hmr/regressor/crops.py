"""Square person crops for the regressor (SPIN's center/scale rule) and the camera back to the image.

A crop is described by SPIN's (center, scale): the square box of side 200 · scale pixels around
`center` is mapped onto a `size` × `size` crop (FORMATS §3.6, `body_models.cameras.
spin_crop_transform`), optionally rotated and mirrored (training augmentation). The pixels are
sampled with a bilinear warp in torch (`grid_sample`), outside the image is black; no OpenCV.

Pixel convention: a 2D point with integer coordinates (i, j) is the centre of pixel column i,
row j, in the image and in the crop. Keypoints move into the crop with the same matrix as the
pixels (`crop_matrix`), so image and labels stay consistent under rotation and flip. Normalised
crop coordinates are SPIN's 2 · p / size − 1.

    crops = crop_boxes(image, boxes_xywh, rescale=1.2)      # (B, 3, 224, 224) network input
    out = model(crops.images)
    transl = full_image_translation(out.cam, crops, image_size=(W, H))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from body_models.cameras import (
    PIXEL_STD,
    SPIN_CROP_SIZE,
    SPIN_FOCAL_LENGTH,
    box_to_center_scale_square,
    crop_camera_to_full_image,
    spin_crop_transform,
)
from body_models.errors import InputError
from hmr.core.imagenet import normalize_images

__all__ = [
    "CameraTranslation",
    "Crops",
    "crop_boxes",
    "crop_matrix",
    "full_image_translation",
    "keypoints_to_crop",
    "warp_crop",
]


def crop_matrix(center, scale: float, size: int, rot_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """Image pixels → crop pixels for SPIN's square crop, with rotation and a mirror.

    SPIN's `get_transform` (`body_models.cameras.spin_crop_transform`: the box centre goes to
    (size/2, size/2), the box side to `size`, the crop turned by −rot_deg about its centre), then
    with `flip` the crop mirrored about its vertical centre line, x → size − x.

    Args:
        center: (2,) pixels (cx, cy).
        scale: box side / 200.
        size: crop side, pixels.
        rot_deg: rotation, degrees (SPIN's sign).
        flip: mirror the crop left-right.

    Returns:
        (3, 3) float64 homogeneous matrix.
    """
    matrix = spin_crop_transform(center, scale, size, rot=rot_deg)
    if flip:
        mirror = np.array([[-1.0, 0.0, float(size)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = mirror @ matrix
    return matrix


def keypoints_to_crop(keypoints: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Move image keypoints into a crop and normalise them to [-1, 1].

    Args:
        keypoints: (J, 2) or (J, 3) pixels x, y (, confidence); confidence is kept.
        matrix: (3, 3) image → crop (`crop_matrix`).
        size: crop side, pixels.

    Returns:
        (J, 2) or (J, 3) float64 normalised crop coordinates 2 · p / size − 1 (, confidence).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 2 or keypoints.shape[-1] not in (2, 3):
        raise InputError(f"keypoints must have shape (J, 2) or (J, 3); got {keypoints.shape}")
    moved = keypoints[:, :2] @ matrix[:2, :2].T + matrix[:2, 2]  # (J, 2) crop pixels
    out = keypoints.copy()
    out[:, :2] = 2.0 * moved / size - 1.0
    return out


def warp_crop(image: np.ndarray | torch.Tensor, matrix: np.ndarray, size: int) -> torch.Tensor:
    """Bilinear warp of an image into a crop; pixels outside the image are 0.

    Args:
        image: (H, W, C) uint8 or float pixels, numpy or torch.
        matrix: (3, 3) image → crop pixels (`crop_matrix`).
        size: crop side, pixels.

    Returns:
        (size, size, C) float32 tensor, same pixel range as `image` (not rounded).
    """
    pixels = torch.from_numpy(np.array(image)) if isinstance(image, np.ndarray) else image  # copy: may be read-only
    if pixels.ndim != 3:
        raise InputError(f"image must have shape (H, W, C); got {tuple(pixels.shape)}")
    height, width = pixels.shape[:2]
    inverse = torch.as_tensor(np.linalg.inv(matrix), dtype=torch.float64)  # crop → image
    coords = torch.arange(size, dtype=torch.float64)
    grid_y, grid_x = torch.meshgrid(coords, coords, indexing="ij")
    crop_points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1)  # (S, S, 3)
    source = crop_points @ inverse[:2].T  # (S, S, 2) image pixels x, y
    # grid_sample with align_corners=True puts -1 and +1 on the centres of the first and last pixel.
    grid = torch.stack([2.0 * source[..., 0] / max(width - 1, 1) - 1.0,
                        2.0 * source[..., 1] / max(height - 1, 1) - 1.0], dim=-1)
    chw = pixels.permute(2, 0, 1)[None].to(torch.float32)  # (1, C, H, W)
    out = F.grid_sample(chw, grid[None].to(torch.float32), mode="bilinear", padding_mode="zeros",
                        align_corners=True)
    return out[0].permute(1, 2, 0)  # (S, S, C)


@dataclass
class Crops:
    """Regressor input cut from one image, and where each crop came from.

    Attributes:
        images: (B, 3, S, S) float32, ImageNet-normalised RGB.
        center: (B, 2) pixels, box centres in the image.
        scale: (B,) box side / 200.
        matrices: (B, 3, 3) image → crop pixels.
    """

    images: torch.Tensor
    center: np.ndarray
    scale: np.ndarray
    matrices: np.ndarray

    @property
    def box_size(self) -> np.ndarray:
        """(B,) side of each square box in the image, pixels."""
        return PIXEL_STD * self.scale


def crop_boxes(image: np.ndarray, boxes_xywh, rescale: float = 1.0, size: int = SPIN_CROP_SIZE) -> Crops:
    """Cut square crops around person boxes and normalise them for the regressor.

    SPIN's rule (FORMATS §3.6): center = box centre, scale = rescale · max(w, h) / 200; its demo
    uses rescale 1, its 3DPW / MPI-INF-3DHP boxes 1.2.

    Args:
        image: (H, W, 3) uint8 RGB.
        boxes_xywh: (B, 4) pixels (x, y, w, h).
        rescale: context factor on the longer box side.
        size: crop side, pixels (224 for SPIN's and HMR's weights).

    Returns:
        Crops with images (B, 3, size, size).

    Raises:
        InputError: the image is not (H, W, 3) uint8, or a box is not (B, 4) with positive size.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise InputError(f"image must be (H, W, 3) uint8 RGB; got {image.shape} {image.dtype}")
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4) if np.size(boxes_xywh) else np.zeros((0, 4))
    if np.any(boxes[:, 2:] <= 0):
        raise InputError(f"boxes must have positive width and height; got {boxes.tolist()}")
    center, scale = box_to_center_scale_square(boxes, rescale=rescale)
    matrices = np.stack([crop_matrix(c, s, size) for c, s in zip(center, scale)]) if len(boxes) else np.zeros((0, 3, 3))
    pixels = torch.from_numpy(image)
    warped = [warp_crop(pixels, m, size).round().clamp(0, 255).to(torch.uint8) for m in matrices]
    stacked = torch.stack(warped) if warped else torch.zeros((0, size, size, 3), dtype=torch.uint8)
    return Crops(images=normalize_images(stacked), center=center, scale=scale, matrices=matrices)


@dataclass
class CameraTranslation:
    """A perspective camera for the whole image, equivalent to the crops' weak-perspective cams.

    Attributes:
        transl: (B, 3) metres, camera frame of the full image; add it to the SMPL output.
        focal_length: (B,) pixels of the full image.
        principal_point: (B, 2) pixels, the image centre.
    """

    transl: torch.Tensor
    focal_length: torch.Tensor
    principal_point: torch.Tensor


def full_image_translation(
    cam: torch.Tensor,
    crops: Crops,
    image_size,
    focal_length: float | None = None,
    crop_size: int = SPIN_CROP_SIZE,
) -> CameraTranslation:
    """Convert the regressor's crop cameras to a translation in the full image.

    Without `focal_length` the crop keeps SPIN's focal length of 5000 crop pixels, i.e.
    f = 5000 · box_size / crop_size image pixels, so the depth is SPIN's 2 · 5000 / (224 · s).
    With a focal length for the whole image (from calibration, or e.g. the image diagonal) the
    depth follows it instead. Both use `body_models.cameras.crop_camera_to_full_image`.

    Args:
        cam: (B, 3) weak perspective (s, tx, ty) from the regressor.
        crops: where the crops came from (`crop_boxes`).
        image_size: (width, height) of the full image, pixels.
        focal_length: whole-image focal length, pixels; None for SPIN's crop focal length.
        crop_size: crop side the focal length 5000 refers to (224).

    Returns:
        CameraTranslation (transl, focal_length, principal_point), float32 on cam's device.
    """
    if cam.ndim != 2 or cam.shape[-1] != 3 or cam.shape[0] != len(crops.scale):
        raise InputError(f"cam must have shape ({len(crops.scale)}, 3) for {len(crops.scale)} crops; "
                         f"got {tuple(cam.shape)}")
    box_size = torch.as_tensor(crops.box_size, dtype=cam.dtype, device=cam.device)
    if focal_length is None:
        focal = SPIN_FOCAL_LENGTH * box_size / crop_size
    else:
        focal = torch.full_like(box_size, float(focal_length))
    size = torch.as_tensor(np.asarray(image_size, dtype=np.float64), dtype=cam.dtype, device=cam.device)
    center = torch.as_tensor(crops.center, dtype=cam.dtype, device=cam.device)
    transl = crop_camera_to_full_image(cam, center, box_size, size.expand(len(box_size), 2), focal)
    return CameraTranslation(transl=transl, focal_length=focal,
                             principal_point=(0.5 * size).expand(len(box_size), 2).clone())
