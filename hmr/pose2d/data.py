"""Top-down training data: any COCO-format keypoint dataset, with HRNet's targets and augmentation.

``CocoKeypoints`` reads a COCO keypoint JSON (COCO itself, the face or hand parts of
COCO-WholeBody exported as their own JSON, a user's file, or ``hmr make-synthetic-images``) and
gives one sample per annotated person, following the official HRNet data path
(``lib/dataset/JointsDataset.py`` and ``coco.py`` of deep-high-resolution-net.pytorch):

- box cleaning (clipped to the image, area > 0, at least one labelled keypoint) and
  box → (center, scale) with HRNet's aspect ratio and 1.25 padding;
- training augmentation: half-body crops, scale (σ ``scale_factor``, clipped to 1 ± it),
  rotation (σ ``rotation_factor``, clipped to ± 2×, applied with probability 0.6), horizontal
  flip with the left/right joint swap; all draws from a generator seeded by (seed, epoch, index),
  so that a sample is the same whichever worker, process or resumed run makes it;
- the affine crop (``body_models.cameras.get_affine_transform``, ``cv2.warpAffine`` bilinear);
- Gaussian heatmap targets with target weights (``gaussian_targets``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from body_models.cameras import affine_transform_points, box_to_center_scale, get_affine_transform
from body_models.errors import InputError, MissingFileError

__all__ = ["Augmentation", "CocoKeypoints", "gaussian_targets", "half_body_box", "read_coco_keypoints"]

PIXEL_STD = 200.0
COCO_UPPER_BODY = tuple(range(11))  # nose … wrists: HRNet's upper-body joints for half-body crops


@dataclass(frozen=True)
class Augmentation:
    """HRNet's training augmentation (the COCO w32_256x192 recipe's values by default).

    Attributes:
        scale_factor: σ of the scale jitter; the factor is clipped to [1 − sf, 1 + sf].
        rotation_factor: σ of the rotation, degrees; clipped to ± 2σ, applied with probability 0.6.
        flip: mirror half of the samples (needs ``flip_pairs``).
        half_body_prob: probability of a half-body crop when more than ``half_body_min_joints``
            joints are labelled.
        half_body_min_joints: HRNet's NUM_JOINTS_HALF_BODY.
        upper_body: joint indices of the upper body (COCO-17's nose … wrists by default).
    """

    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    flip: bool = True
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    upper_body: tuple[int, ...] = COCO_UPPER_BODY


NO_AUGMENTATION = Augmentation(scale_factor=0.0, rotation_factor=0.0, flip=False, half_body_prob=0.0)


def gaussian_targets(joints: np.ndarray, visible: np.ndarray, image_size: Sequence[int],
                     heatmap_size: Sequence[int], sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """HRNet's Gaussian heatmap targets (``JointsDataset.generate_target``, gaussian type).

    Each joint's peak sits on the heatmap cell nearest to its position / stride; the Gaussian
    (peak 1, radius 3σ) is cut at the map's border. A joint whose Gaussian lies wholly outside
    the map, or that is not labelled, gets weight 0 and an empty map.

    Args:
        joints: (J, 2) input-crop pixels.
        visible: (J,) 1 for labelled joints, 0 otherwise.
        image_size: network input (width, height) pixels.
        heatmap_size: (width, height) cells.
        sigma: Gaussian σ, cells.

    Returns:
        target (J, h, w) float32 and target_weight (J, 1) float32.
    """
    num_joints = len(joints)
    hw, hh = int(heatmap_size[0]), int(heatmap_size[1])
    weight = np.asarray(visible, np.float32).reshape(num_joints, 1).copy()
    target = np.zeros((num_joints, hh, hw), np.float32)
    radius = sigma * 3
    stride = np.asarray(image_size, np.float64) / np.asarray(heatmap_size, np.float64)
    size = 2 * radius + 1
    grid = np.arange(0, size, 1, np.float32)
    mid = size // 2
    gaussian = np.exp(-((grid[None, :] - mid) ** 2 + (grid[:, None] - mid) ** 2) / (2 * sigma ** 2))
    for j in range(num_joints):
        mu_x = int(joints[j][0] / stride[0] + 0.5)  # int() truncates toward zero, as HRNet's
        mu_y = int(joints[j][1] / stride[1] + 0.5)
        ul = (int(mu_x - radius), int(mu_y - radius))
        br = (int(mu_x + radius + 1), int(mu_y + radius + 1))
        if ul[0] >= hw or ul[1] >= hh or br[0] < 0 or br[1] < 0:
            weight[j] = 0
            continue
        if weight[j] > 0.5:
            gx = max(0, -ul[0]), min(br[0], hw) - ul[0]
            gy = max(0, -ul[1]), min(br[1], hh) - ul[1]
            ix = max(0, ul[0]), min(br[0], hw)
            iy = max(0, ul[1]), min(br[1], hh)
            target[j, iy[0]:iy[1], ix[0]:ix[1]] = gaussian[gy[0]:gy[1], gx[0]:gx[1]]
    return target, weight


def half_body_box(joints: np.ndarray, visible: np.ndarray, upper_body: Sequence[int], aspect_ratio: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """HRNet's half-body crop: (center, scale) around the labelled upper or lower body, or None.

    As the official code, the upper body is chosen when a standard normal draw is below 0.5
    (about 69 % of the time) and it has more than two labelled joints.
    """
    upper_set = set(upper_body)
    labelled = [j for j in range(len(joints)) if visible[j] > 0]
    upper = [joints[j] for j in labelled if j in upper_set]
    lower = [joints[j] for j in labelled if j not in upper_set]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        chosen = upper
    else:
        chosen = lower if len(lower) > 2 else upper
    if len(chosen) < 2:
        return None
    chosen = np.asarray(chosen, np.float32)
    center = chosen.mean(axis=0)[:2]
    w, h = chosen.max(axis=0) - chosen.min(axis=0)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w / PIXEL_STD, h / PIXEL_STD], np.float32) * 1.5


@dataclass(frozen=True)
class _Person:
    image: Path
    keypoints: np.ndarray  # (J, 3) pixels x, y, v
    center: np.ndarray  # (2,) pixels
    scale: np.ndarray  # (2,) units of 200 px
    box: np.ndarray  # (4,) x, y, w, h pixels, cleaned
    image_id: int
    annotation_id: int


def read_coco_keypoints(annotations: str | os.PathLike, images: str | os.PathLike, num_joints: int,
                        aspect_ratio: float, check_images: bool = True) -> list[_Person]:
    """The annotated people of a COCO keypoint JSON, boxes cleaned as HRNet does.

    Raises:
        MissingFileError: no JSON, or (``check_images``) an image it names is missing.
        InputError: not COCO keypoint JSON, keypoints not ``num_joints`` × 3, or no usable person.
    """
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_file():
        raise MissingFileError(f"keypoint annotations not found: {annotations}")
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{annotations}: not valid JSON ({' '.join(str(error).split())[:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise InputError(f"{annotations}: not a COCO keypoint file (needs 'images' and 'annotations' lists)")
    by_id = {}
    for image in data["images"]:
        if not isinstance(image, dict) or not {"id", "file_name", "width", "height"} <= set(image):
            raise InputError(f"{annotations}: every image needs id, file_name, width and height")
        by_id[image["id"]] = image
    people, seen_files = [], set()
    for ann in data["annotations"]:
        keypoints = ann.get("keypoints") if isinstance(ann, dict) else None
        if keypoints is None or ann.get("iscrowd", 0) or ann.get("category_id", 1) != 1:
            continue
        if len(keypoints) != 3 * num_joints:
            raise InputError(f"{annotations}: annotation {ann.get('id')} has {len(keypoints) // 3} keypoints but the "
                             f"model has {num_joints}; set model.num_joints to match the dataset")
        image = by_id.get(ann.get("image_id"))
        if image is None:
            raise InputError(f"{annotations}: annotation {ann.get('id')} names image_id {ann.get('image_id')!r}, "
                             "which is not in 'images'")
        kp = np.asarray(keypoints, np.float64).reshape(num_joints, 3)
        if kp.max() <= 0 or "bbox" not in ann:
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        x1, y1 = max(0.0, x), max(0.0, y)
        x2 = min(image["width"] - 1.0, x1 + max(0.0, w - 1))
        y2 = min(image["height"] - 1.0, y1 + max(0.0, h - 1))
        if not (ann.get("area", 1) > 0 and x2 >= x1 and y2 >= y1):
            continue
        box = np.array([x1, y1, x2 - x1, y2 - y1])
        center, scale = box_to_center_scale(box, aspect_ratio=aspect_ratio, padding=1.25)
        path = images / image["file_name"]
        if check_images and path not in seen_files:
            if not path.is_file():
                raise MissingFileError(f"{annotations}: image {path} is missing; check --images / the config's "
                                       "image folder")
            seen_files.add(path)
        kp[:, 2] = np.minimum(kp[:, 2], 1)  # labelled (seen or hidden) → 1
        people.append(_Person(path, kp, center.astype(np.float32), scale.astype(np.float32), box,
                              int(image["id"]), int(ann.get("id", len(people)))))
    if not people:
        raise InputError(f"{annotations}: no usable person annotation (category 1, not crowd, a box and at least "
                         "one labelled keypoint)")
    return people


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; a missing or unreadable file is a one-line error."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise MissingFileError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class CocoKeypoints(torch.utils.data.Dataset):
    """One person per item: the normalised crop, heatmap targets and the crop's geometry.

    Args:
        annotations: COCO keypoint JSON.
        images: folder the JSON's ``file_name`` entries are relative to.
        image_size: network input (width, height) pixels.
        heatmap_size: (width, height) cells.
        sigma: target σ, cells.
        flip_pairs: (left, right) joint index pairs; required for flip augmentation.
        augmentation: ``Augmentation`` for training, None for evaluation crops.
        seed: seeds every random draw together with the epoch and the index.

    Item (a dict): ``image (3, H, W)`` float32 normalised RGB; ``target (J, h, w)`` float32;
    ``target_weight (J, 1)``; ``joints (J, 2)`` float32 heatmap cells (input pixels / stride);
    ``center (2,)``, ``scale (2,)`` of the crop (rotation in ``rotation``, degrees);
    ``index``; ``image_id``; ``annotation_id``.
    """

    def __init__(self, annotations, images, image_size: Sequence[int], heatmap_size: Sequence[int], sigma: float,
                 flip_pairs: Sequence[Sequence[int]] = (), augmentation: Augmentation | None = None,
                 seed: int = 0, num_joints: int = 17, check_images: bool = True) -> None:
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.flip_pairs = tuple((int(a), int(b)) for a, b in flip_pairs)
        self.augmentation = augmentation
        if augmentation is not None and augmentation.flip and not self.flip_pairs and num_joints != 1:
            raise InputError("flip augmentation needs the dataset's flip_pairs (left/right joint pairs); "
                             "give flip_pairs or set flip: false")
        self.seed = int(seed)
        self.epoch = 0
        self.people = read_coco_keypoints(annotations, images, num_joints, self.image_size[0] / self.image_size[1],
                                          check_images)

    def __len__(self) -> int:
        return len(self.people)

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentation of ``epoch`` (a new draw per epoch, the same on every resume)."""
        self.epoch = int(epoch)

    def sample(self, index: int, image: np.ndarray | None = None, rng=None) -> dict[str, np.ndarray]:
        """The item as numpy arrays, crop ``input`` (H, W, 3) uint8 RGB instead of a normalised tensor.

        ``rng`` (with ``random()`` and ``standard_normal()``) replaces the seeded generator, for
        side-by-side checks against the official code."""
        person = self.people[index]
        image = read_image(person.image) if image is None else image
        joints = person.keypoints[:, :2].astype(np.float64).copy()
        visible = person.keypoints[:, 2].copy()
        center, scale, rotation = person.center.copy(), person.scale.copy(), 0.0
        aug = self.augmentation
        if aug is not None:
            rng = rng if rng is not None else np.random.default_rng([self.seed, self.epoch, index])
            if visible.sum() > aug.half_body_min_joints and rng.random() < aug.half_body_prob:
                half = half_body_box(joints, visible, aug.upper_body, self.image_size[0] / self.image_size[1], rng)
                if half is not None:
                    center, scale = half
            sf, rf = aug.scale_factor, aug.rotation_factor
            scale = scale * np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf)
            rotation = float(np.clip(rng.standard_normal() * rf, -rf * 2, rf * 2)) if rng.random() <= 0.6 else 0.0
            if aug.flip and rng.random() <= 0.5:
                image = image[:, ::-1]
                joints[:, 0] = image.shape[1] - joints[:, 0] - 1
                for a, b in self.flip_pairs:
                    joints[[a, b]] = joints[[b, a]]
                    visible[[a, b]] = visible[[b, a]]
                joints *= visible[:, None]
                center = center.copy()
                center[0] = image.shape[1] - center[0] - 1
        matrix = get_affine_transform(center, scale, rotation, self.image_size)
        crop = cv2.warpAffine(np.ascontiguousarray(image), matrix, self.image_size, flags=cv2.INTER_LINEAR)
        labelled = visible > 0
        joints[labelled] = affine_transform_points(joints[labelled][None], matrix)[0]
        target, weight = gaussian_targets(joints, visible, self.image_size, self.heatmap_size, self.sigma)
        stride = np.asarray(self.image_size, np.float64) / np.asarray(self.heatmap_size, np.float64)
        return {"input": crop, "target": target, "target_weight": weight,
                "joints": (joints / stride).astype(np.float32), "center": np.asarray(center, np.float32),
                "scale": np.asarray(scale, np.float32), "rotation": np.float32(rotation),
                "index": np.int64(index), "image_id": np.int64(person.image_id),
                "annotation_id": np.int64(person.annotation_id)}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from hmr.core.imagenet import normalize_images

        item = self.sample(index)
        crop = item.pop("input")
        out = {k: torch.as_tensor(v) for k, v in item.items()}
        out["image"] = normalize_images(crop[None])[0]
        return out
