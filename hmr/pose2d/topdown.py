"""Top-down 2D keypoints: person boxes → affine crops → HRNet heatmaps → image-pixel keypoints.

The steps follow the official HRNet test path (FORMATS.md §1.4–1.9):

1. ``crop_people``: each box (x1, y1, x2, y2) becomes a center and a scale (aspect ratio of the
   network input, 1.25 padding, pixel_std 200), then one ``cv2.warpAffine`` per person on the
   uint8 frame (bilinear, black border).
2. ``hmr.core.imagenet.normalize_images``: one batched conversion to RGB float, ImageNet mean/std, (N, 3, H, W).
3. ``predict_heatmaps``: the network, optionally with the flip test (``flip_back``).
4. ``decode_heatmaps``: argmax, the quarter-pixel shift (or DARK refinement), inverse affine
   back to image pixels, the heatmap maximum as confidence.

``estimate_keypoints`` chains the four for the people of one frame.

    model = load_pretrained("pose_hrnet_w32_256x192.pth")
    result = estimate_keypoints(model, frame_rgb, boxes_xyxy, flip=True, refine="dark")
    result.keypoints  # (N, 17, 3) pixels x, y, confidence
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

from body_models import joints as js
from body_models.cameras import affine_transform_points, box_xyxy_to_xywh, box_to_center_scale, get_affine_transform
from body_models.errors import InputError
from hmr.core.imagenet import normalize_images

BOX_PADDING = 1.25  # HRNet's context around a person box
REFINE_METHODS = (None, "dark")


@dataclass
class Crops:
    """Person crops of one frame and the transforms that made them.

    Attributes:
        images: (N, H, W, 3) uint8 RGB crops at the network input size.
        center: (N, 2) float64 box centres, pixels of the frame.
        scale: (N, 2) float64 (width, height) crop size in units of 200 pixels (padding included).
    """

    images: np.ndarray
    center: np.ndarray
    scale: np.ndarray


@dataclass
class TopDownResult:
    """Keypoints of the people of one frame.

    Attributes:
        keypoints: (N, J, 3) float64 pixels x, y and the heatmap maximum as confidence.
        heatmaps: (N, J, h, w) float32 heatmaps after the flip test, heatmap cells.
        center: (N, 2) crop centres, pixels.
        scale: (N, 2) crop scales, units of 200 pixels.
    """

    keypoints: np.ndarray
    heatmaps: np.ndarray
    center: np.ndarray
    scale: np.ndarray


def _check_boxes(boxes_xyxy) -> np.ndarray:
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4) if np.size(boxes_xyxy) else np.zeros((0, 4))
    if not np.isfinite(boxes).all():
        raise InputError("person boxes must be finite numbers (x1, y1, x2, y2)")
    return boxes


def crop_people(frame: np.ndarray, boxes_xyxy, image_size: tuple[int, int] = (192, 256),
                padding: float = BOX_PADDING) -> Crops:
    """Cut one crop per person box with HRNet's affine transform.

    Args:
        frame: (H, W, 3) uint8 RGB image.
        boxes_xyxy: (N, 4) pixels x1, y1, x2, y2 (a fifth score column is ignored).
        image_size: network input (width, height) pixels.
        padding: context factor applied to the aspect-corrected box.

    Returns:
        ``Crops`` with (N, image_size[1], image_size[0], 3) uint8 images.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    boxes = _check_boxes(boxes[..., :4] if boxes.ndim == 2 else boxes)
    width, height = int(image_size[0]), int(image_size[1])
    center, scale = box_to_center_scale(box_xyxy_to_xywh(boxes), aspect_ratio=width / height, padding=padding)
    matrices = get_affine_transform(center, scale, 0.0, (width, height))  # (N, 2, 3)
    images = np.zeros((len(boxes), height, width, 3), np.uint8)
    for i, matrix in enumerate(matrices):
        cv2.warpAffine(frame, matrix, (width, height), dst=images[i], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return Crops(images=images, center=center, scale=scale)


def flip_back(heatmaps: torch.Tensor, flip_perm: Sequence[int], shift: bool = True) -> torch.Tensor:
    """Heatmaps of a mirrored input brought back to the original's frame (HRNet's flip test).

    Mirror along the width, give each joint the map of its left/right twin, then (``shift``) move
    every map one column right, column 0 keeping its value: the official ``SHIFT_HEATMAP``, which
    compensates the half-cell offset a mirrored stride-4 grid has.

    Args:
        heatmaps: (N, J, h, w) network output for the mirrored crops.
        flip_perm: (J,) for each joint, the joint of the mirrored body it comes from.
        shift: apply the one-column shift.

    Returns:
        (N, J, h, w) a new tensor.
    """
    if heatmaps.ndim != 4 or heatmaps.shape[1] != len(flip_perm):
        raise ValueError(f"heatmaps must be (N, {len(flip_perm)}, h, w), got {tuple(heatmaps.shape)}")
    out = heatmaps.flip(-1)[:, list(flip_perm)]
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


def default_flip_perm(num_joints: int) -> tuple[int, ...]:
    """COCO-17's left/right permutation; other joint counts must name theirs."""
    if num_joints == len(js.COCO_17):
        return js.COCO_17.flip_perm
    raise InputError(f"the flip test needs the left/right pairs of this {num_joints}-joint model; "
                     "pass flip_perm or switch the flip test off")


@torch.no_grad()
def predict_heatmaps(model: torch.nn.Module, images: torch.Tensor, flip: bool = True,
                     flip_perm: Sequence[int] | None = None, shift: bool = True) -> torch.Tensor:
    """Run the network, averaging with the mirrored input when ``flip`` (0.5 each).

    Args:
        model: HRNet (or any (N, 3, H, W) → (N, J, h, w) module).
        images: (N, 3, H, W) normalised crops.
        flip: the official flip test.
        flip_perm: (J,) left/right permutation; COCO-17's when None.
        shift: the one-column shift of the flipped maps.

    Returns:
        (N, J, h, w) float32 heatmaps.
    """
    if not flip:
        return model(images).float()
    both = model(torch.cat([images, images.flip(-1)])).float()  # one batch: original then mirrored
    plain, mirrored = both[: len(images)], both[len(images):]
    perm = default_flip_perm(plain.shape[1]) if flip_perm is None else flip_perm
    return 0.5 * (plain + flip_back(mirrored, perm, shift=shift))


# ---------------------------------------------------------------------------------------------
# decoding


def get_max_preds(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax of each heatmap, in heatmap cells.

    Args:
        heatmaps: (N, J, h, w).

    Returns:
        coords (N, J, 2) float64 (x, y) of the first maximum, (0, 0) where the maximum is ≤ 0;
        maxvals (N, J) the maxima.
    """
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (N, J, h, w), got {heatmaps.shape}")
    n, j, _, w = heatmaps.shape
    flat = heatmaps.reshape(n, j, -1)
    index = flat.argmax(-1)  # first maximum, as np.argmax in the official code
    maxvals = np.take_along_axis(flat, index[..., None], -1)[..., 0]
    coords = np.stack([index % w, index // w], axis=-1).astype(np.float64)
    coords[maxvals <= 0] = 0.0
    return coords, maxvals


def _gather(heatmaps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """heatmaps[n, j, y[n, j], x[n, j]] for integer (N, J) x and y."""
    n, j = np.indices(x.shape)
    return heatmaps[n, j, y, x]


def quarter_offset(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """The official post-process: a quarter cell towards the higher neighbour, per axis.

    Only where the rounded peak lies strictly inside the map (1 < px < w−1 and 1 < py < h−1).

    Args:
        heatmaps: (N, J, h, w).
        coords: (N, J, 2) argmax cells from ``get_max_preds``.

    Returns:
        (N, J, 2) refined coordinates, heatmap cells.
    """
    _, _, h, w = heatmaps.shape
    px = np.floor(coords[..., 0] + 0.5).astype(np.int64)
    py = np.floor(coords[..., 1] + 0.5).astype(np.int64)
    inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    px, py = np.clip(px, 1, w - 2), np.clip(py, 1, h - 2)  # safe indices; outside points are masked
    dx = _gather(heatmaps, px + 1, py) - _gather(heatmaps, px - 1, py)
    dy = _gather(heatmaps, px, py + 1) - _gather(heatmaps, px, py - 1)
    step = 0.25 * np.sign(np.stack([dx, dy], axis=-1)) * inside[..., None]
    return coords + step


def dark_offset(heatmaps: np.ndarray, coords: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DARK sub-pixel refinement (Zhang et al., "Distribution-Aware Coordinate Representation").

    Each map is smoothed with a Gaussian of ``kernel`` cells (OpenCV's sigma for that size: 2.0
    for 11, 3.0 for 17, matching the training sigma), its logarithm is taken, and the peak moves
    by one Newton step of the second-order Taylor expansion at the argmax:
    offset = −H⁻¹ ∇, from central differences. For a Gaussian peak the log is a quadratic, so the
    step lands on the true centre. Points within one cell of the border, maps without a positive
    maximum and steps longer than one cell keep the argmax.

    Args:
        heatmaps: (N, J, h, w).
        coords: (N, J, 2) argmax cells from ``get_max_preds``.
        kernel: odd Gaussian kernel size, cells.

    Returns:
        (N, J, 2) refined coordinates, heatmap cells.
    """
    if kernel < 3 or kernel % 2 == 0:
        raise InputError(f"the DARK kernel must be an odd size >= 3, got {kernel}")
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    n, j, h, w = heatmaps.shape
    peak = heatmaps.reshape(n, j, -1).max(-1)
    smooth = np.empty_like(heatmaps)
    for a in range(n):
        for b in range(j):
            smooth[a, b] = cv2.GaussianBlur(heatmaps[a, b], (kernel, kernel), 0)
    # log of the smoothed map; the floor keeps the log finite where the net outputs <= 0
    floor = np.maximum(peak, 1e-10)[..., None, None] * 1e-6
    log = np.log(np.maximum(smooth, floor))

    x = np.rint(coords[..., 0]).astype(np.int64)
    y = np.rint(coords[..., 1]).astype(np.int64)
    usable = (x >= 1) & (x <= w - 2) & (y >= 1) & (y <= h - 2) & (peak > 0)
    x, y = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)

    def at(dx: int, dy: int) -> np.ndarray:
        return _gather(log, x + dx, y + dy)

    centre = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = at(1, 0) - 2 * centre + at(-1, 0)
    hyy = at(0, 1) - 2 * centre + at(0, -1)
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy**2
    safe_det = np.where(np.abs(det) > 1e-12, det, 1.0)
    # -H^-1 g for the 2x2 Hessian [[hxx, hxy], [hxy, hyy]]
    ox = -(hyy * gx - hxy * gy) / safe_det
    oy = -(hxx * gy - hxy * gx) / safe_det
    offset = np.stack([ox, oy], axis=-1)
    ok = usable & (np.abs(det) > 1e-12) & (np.abs(offset) <= 1.0).all(-1)
    return coords + offset * ok[..., None]


def heatmap_coordinates(heatmaps, head: str = "heatmap", refine: str | None = None,
                        dark_kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """The one place that reads positions off the network's maps, for both heads.

    Args:
        heatmaps: (N, J, h, w) numpy array or tensor (the network output).
        head: "heatmap": argmax plus the official quarter-cell shift (or DARK with ``refine``);
            "dsnt": soft-argmax of the spatially normalised maps (``losses.soft_argmax``).
        refine: None or "dark" (heatmap head only).
        dark_kernel: Gaussian kernel of the DARK smoothing, heatmap cells.

    Returns:
        coords (N, J, 2) float64 heatmap cells x, y, and confidence (N, J): the heatmap maximum,
        or for DSNT the largest probability of the normalised map.
    """
    if refine not in REFINE_METHODS:
        raise InputError(f"refine must be one of {REFINE_METHODS}, got {refine!r}")
    if head not in ("heatmap", "dsnt"):
        raise InputError(f"head must be heatmap or dsnt, got {head!r}")
    if head == "dsnt":
        from hmr.pose2d.losses import normalized_heatmaps, soft_argmax

        maps = torch.as_tensor(heatmaps).detach().float().cpu()
        probabilities = normalized_heatmaps(maps)
        coords = soft_argmax(probabilities).double().numpy()
        return coords, probabilities.flatten(2).amax(-1).double().numpy()
    if isinstance(heatmaps, torch.Tensor):
        heatmaps = heatmaps.detach().float().cpu().numpy()
    heatmaps = np.asarray(heatmaps)
    coords, maxvals = get_max_preds(heatmaps)
    if refine == "dark":
        coords = dark_offset(heatmaps, coords, kernel=dark_kernel)
    else:
        coords = quarter_offset(heatmaps, coords)
    return coords, maxvals


def decode_heatmaps(heatmaps, center, scale, refine: str | None = None, dark_kernel: int = 11,
                    head: str = "heatmap", rotation=0.0) -> np.ndarray:
    """Network maps → keypoints in image pixels, as the official ``get_final_preds`` (with refine None).

    Args:
        heatmaps: (N, J, h, w) numpy array or tensor.
        center: (N, 2) crop centres, pixels.
        scale: (N, 2) crop scales, units of 200 pixels.
        refine: None for the official quarter-cell shift, "dark" for DARK refinement.
        dark_kernel: Gaussian kernel of the DARK smoothing, heatmap cells.
        head: "heatmap" or "dsnt" (``heatmap_coordinates``).
        rotation: crop rotation, degrees (a number or (N,)); 0 at test time.

    Returns:
        (N, J, 3) float64: x, y in image pixels and the confidence.
    """
    coords, maxvals = heatmap_coordinates(heatmaps, head, refine, dark_kernel)
    h, w = np.shape(heatmaps)[2:]
    to_image = get_affine_transform(np.asarray(center, np.float64).reshape(-1, 2),
                                    np.asarray(scale, np.float64).reshape(-1, 2), rotation, (w, h), inv=True)
    xy = affine_transform_points(coords, to_image)  # (N, J, 2)
    return np.concatenate([xy, maxvals[..., None].astype(np.float64)], axis=-1)


def estimate_keypoints(model: torch.nn.Module, frame: np.ndarray, boxes_xyxy, flip: bool = True,
                       refine: str | None = None, flip_perm: Sequence[int] | None = None) -> TopDownResult:
    """Keypoints of every boxed person in one frame (crop, normalise, network, decode).

    Args:
        model: an HRNet; its ``config.image_size`` sets the crop size and ``config.sigma`` the
            DARK kernel (6σ − 1).
        frame: (H, W, 3) uint8 RGB.
        boxes_xyxy: (N, 4) pixels.
        flip: the flip test.
        refine: None or "dark".
        flip_perm: left/right permutation for non-COCO joint sets.

    Returns:
        ``TopDownResult`` with (N, J, 3) keypoints in frame pixels.
    """
    crops = crop_people(frame, boxes_xyxy, image_size=model.config.image_size)
    device = next(model.parameters()).device
    if len(crops.images) == 0:
        j = model.config.num_joints
        w, h = model.config.heatmap_size
        return TopDownResult(np.zeros((0, j, 3)), np.zeros((0, j, h, w), np.float32), crops.center, crops.scale)
    heatmaps = predict_heatmaps(model, normalize_images(crops.images, device), flip=flip, flip_perm=flip_perm)
    heatmaps = heatmaps.cpu().numpy()
    keypoints = decode_heatmaps(heatmaps, crops.center, crops.scale, refine=refine,
                                dark_kernel=dark_kernel_for(model.config.sigma),
                                head=getattr(model.config, "head", "heatmap"))
    return TopDownResult(keypoints=keypoints, heatmaps=heatmaps, center=crops.center, scale=crops.scale)


def dark_kernel_for(sigma: float) -> int:
    """MMPose's DARK kernel for a training sigma: 6σ − 1 cells (11 for σ 2, 17 for σ 3), odd."""
    kernel = max(3, int(round(6 * sigma - 1)))
    return kernel if kernel % 2 else kernel + 1


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of an eval-mode network with every BatchNorm folded into the convolution before it.

    Pairs are a ``Conv2d`` followed by a ``BatchNorm2d`` inside a ``Sequential``, and sibling
    attributes ``convK`` / ``bnK`` (HRNet's stem and blocks). The BatchNorm becomes an
    ``Identity``; outputs match to float rounding. For inference only: the copy cannot train.
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        children = dict(module.named_children())
        if isinstance(module, torch.nn.Sequential):
            names = list(children)
            pairs = [(a, b) for a, b in zip(names, names[1:])]
        else:
            pairs = [(name, "bn" + name[4:]) for name in children if name.startswith("conv") and name[4:].isdigit()]
        for conv_name, bn_name in pairs:
            conv, bn = children.get(conv_name), children.get(bn_name)
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, torch.nn.Identity())
                children[bn_name] = torch.nn.Identity()
    return folded
