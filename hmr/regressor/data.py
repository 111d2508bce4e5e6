"""Training data for the regressor: SPIN-layout datasets, mocap for the prior, augmentation, and a
synthetic dataset drawn with the mannequin.

Datasets (FORMATS §3.9): an npz with `imgname (N,)` paths relative to an image folder,
`center (N, 2)` and `scale (N,)` (box side / 200), `part (N, 24, 3)` 2D keypoints in pixels
with visibility in `joints.SPIN_24` order, and where known `S (N, 24, 4)` 3D joints (metres,
camera frame, with confidence), `pose (N, 72)`, `shape (N, 10)`, `has_smpl (N,)`. OpenPose
detections (`openpose`) are not used. Images are read as RGB: `.npy` arrays (H, W, 3) uint8
directly, other formats (PNG, JPEG) with Pillow.

Mocap for the adversarial prior: an npz with `poses (N, 72)` axis-angle and `betas (N, 10)`.

Augmentation (SPIN's, FORMATS §3.6): box scale, in-plane rotation, left-right flip and
per-channel colour noise. Image, 2D keypoints, 3D joints and the SMPL pose move together: the
rotation turns the 3D joints and the global orientation about the camera's z axis by the same
angle as the crop, the flip mirrors x, swaps left and right (`joints.*.flip_perm`) and mirrors
each axis-angle rotation to (x, −y, −z).

Every batch is a pure function of (seed, step, rank), so a resumed run sees the same data as an
uninterrupted one, with or without loader workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import atomic_path, save_npz
from body_models.cameras import perspective_project
from body_models.errors import InputError, MissingFileError
from body_models.motion import sample_poses
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr.regressor.crops import crop_matrix, keypoints_to_crop, warp_crop
from hmr.core.imagenet import normalize_images

__all__ = [
    "Augmentation",
    "BatchSource",
    "MocapData",
    "SpinDataset",
    "flip_smpl_pose",
    "read_image",
    "rotate_global_orient",
    "write_synthetic_dataset",
]

NUM_KEYPOINTS = len(js.SPIN_24)
PIXEL_MAX = 255.0


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An RGB image as (H, W, 3) uint8: `.npy` with numpy (no pickles), anything else with Pillow."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"image not found: {path}; check the dataset's image folder")
    if path.suffix == ".npy":
        try:
            image = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise InputError(f"{path}: not a plain .npy image ({error})") from None
    else:
        try:
            from PIL import Image
        except ImportError:
            raise InputError(f"{path}: reading {path.suffix} images needs Pillow (pip install pillow); "
                             f"or store images as .npy (H, W, 3) uint8") from None
        with Image.open(path) as handle:
            image = np.asarray(handle.convert("RGB"))
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise InputError(f"{path}: expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return image


def flip_smpl_pose(pose: np.ndarray) -> np.ndarray:
    """Mirror SMPL poses left-right: swap left/right joints and map each axis-angle to (x, −y, −z).

    Args:
        pose: (..., 72) axis-angle, radians, 24 joints in `joints.SMPL_24` order.

    Returns:
        (..., 72) the pose of the mirrored body (mirror plane x = 0).
    """
    pose = np.asarray(pose)
    if pose.shape[-1] != 72:
        raise InputError(f"pose must have shape (..., 72); got {pose.shape}")
    per_joint = pose.reshape(*pose.shape[:-1], 24, 3)[..., list(js.SMPL_24.flip_perm), :]
    return (per_joint * np.array([1.0, -1.0, -1.0], dtype=pose.dtype)).reshape(pose.shape)


def _rotation_z(angle_rad: float) -> np.ndarray:
    """(3, 3) rotation about the camera's z axis; turns (x, y) like the 2D matrix [[c, −s], [s, c]]."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_global_orient(pose: np.ndarray, angle_rad: float) -> np.ndarray:
    """Turn the body about the camera's z axis: global_orient ← R_z(angle) · global_orient.

    Args:
        pose: (72,) axis-angle, radians; joint 0 is the global orientation.
        angle_rad: in-plane rotation, radians, the angle the crop turns its 2D points by.

    Returns:
        (72,) float64 pose.
    """
    pose = np.array(pose, dtype=np.float64)
    root = axis_angle_to_matrix(torch.from_numpy(pose[:3]))
    turned = torch.from_numpy(_rotation_z(angle_rad)) @ root
    pose[:3] = matrix_to_axis_angle(turned).numpy()
    return pose


@dataclass(frozen=True)
class Augmentation:
    """SPIN's training augmentation settings (`utils/train_options.py`); all off with `enabled=False`.

    Attributes:
        enabled: apply augmentation at all.
        flip_prob: probability of a left-right flip.
        noise_factor: per-channel pixel gain drawn from [1 − f, 1 + f].
        rot_factor: rotation std, degrees; clipped to ±2 · rot_factor.
        rot_zero_prob: probability that the rotation is 0.
        scale_factor: box scale std; the factor 1 + N(0, f) is clipped to [1 − f, 1 + f].
    """

    enabled: bool = True
    flip_prob: float = 0.5
    noise_factor: float = 0.4
    rot_factor: float = 30.0
    rot_zero_prob: float = 0.6
    scale_factor: float = 0.25

    def draw(self, rng: np.random.Generator) -> tuple[bool, np.ndarray, float, float]:
        """(flip, pixel gains (3,), rotation degrees, scale factor) for one sample."""
        if not self.enabled:
            return False, np.ones(3), 0.0, 1.0
        flip = bool(rng.uniform() < self.flip_prob)
        gains = rng.uniform(1.0 - self.noise_factor, 1.0 + self.noise_factor, size=3)
        rot = float(np.clip(rng.normal() * self.rot_factor, -2 * self.rot_factor, 2 * self.rot_factor))
        if rng.uniform() < self.rot_zero_prob:
            rot = 0.0
        scale = float(np.clip(1.0 + rng.normal() * self.scale_factor, 1.0 - self.scale_factor,
                              1.0 + self.scale_factor))
        return flip, gains, rot, scale


class SpinDataset:
    """A dataset in SPIN's npz layout with its image folder.

    Args:
        npz_path: the annotation file (FORMATS §3.9).
        image_root: folder the `imgname` entries are relative to.

    Raises:
        MissingFileError: the npz is missing.
        InputError: a required key is missing or an array has the wrong shape.
    """

    def __init__(self, npz_path: str | os.PathLike, image_root: str | os.PathLike) -> None:
        self.npz_path, self.image_root = Path(npz_path), Path(image_root)
        if not self.npz_path.is_file():
            raise MissingFileError(f"dataset file not found: {self.npz_path}; SPIN's dataset_extras/*.npz "
                                   f"come from its preprocessing scripts")
        try:
            with np.load(self.npz_path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except ValueError as error:
            raise InputError(f"{self.npz_path}: not an npz without pickles ({' '.join(str(error).split())[:200]})") from None
        for key in ("imgname", "center", "scale"):
            if key not in arrays:
                raise InputError(f"{self.npz_path}: missing key {key!r}; a SPIN dataset npz has imgname, center, scale")
        n = len(arrays["imgname"])
        expected = {"center": (n, 2), "scale": (n,), "part": (n, NUM_KEYPOINTS, 3), "S": (n, NUM_KEYPOINTS, 4),
                    "pose": (n, 72), "shape": (n, 10), "has_smpl": (n,)}
        for key, shape in expected.items():
            if key in arrays and arrays[key].shape != shape:
                raise InputError(f"{self.npz_path}: {key!r} has shape {arrays[key].shape}, expected {shape}")
        self.imgname = arrays["imgname"].astype(str)
        self.center = arrays["center"].astype(np.float64)
        self.scale = arrays["scale"].astype(np.float64)
        self.part = arrays.get("part", np.zeros((n, NUM_KEYPOINTS, 3))).astype(np.float64)
        self.has_3d = np.full(n, "S" in arrays, dtype=bool)
        self.joints3d = arrays.get("S", np.zeros((n, NUM_KEYPOINTS, 4))).astype(np.float64)
        has_pose = "pose" in arrays and "shape" in arrays
        self.pose = arrays["pose"].astype(np.float64) if has_pose else np.zeros((n, 72))
        self.betas = arrays["shape"].astype(np.float64) if has_pose else np.zeros((n, 10))
        self.has_smpl = (arrays["has_smpl"].astype(bool) if "has_smpl" in arrays
                         else np.full(n, has_pose, dtype=bool))

    def __len__(self) -> int:
        return len(self.imgname)

    def sample(self, index: int, size: int, augmentation: Augmentation, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One augmented training sample.

        Returns:
            A dict: `image (3, S, S)` float32 normalised; `keypoints (24, 3)` normalised crop
            coordinates + visibility (SPIN_24); `joints3d (24, 4)` metres + confidence;
            `pose (72,)`; `betas (10,)`; `has_3d`, `has_smpl` (float32 0/1).
        """
        flip, gains, rot, scale_factor = augmentation.draw(rng)
        matrix = crop_matrix(self.center[index], self.scale[index] * scale_factor, size, rot_deg=rot, flip=flip)
        image = read_image(self.image_root / self.imgname[index])
        crop = warp_crop(image, matrix, size) * torch.as_tensor(gains, dtype=torch.float32)
        crop = normalize_images(crop.round().clamp(0, PIXEL_MAX).to(torch.uint8)[None])[0]

        keypoints = keypoints_to_crop(self.part[index], matrix, size)
        joints3d = self.joints3d[index].copy()
        pose = self.pose[index].copy()
        angle = np.deg2rad(-rot)  # the crop turns its points by −rot (SPIN's sign)
        if rot != 0.0:
            joints3d[:, :3] = joints3d[:, :3] @ _rotation_z(angle).T
            pose = rotate_global_orient(pose, angle)
        if flip:
            keypoints = keypoints[list(js.SPIN_24.flip_perm)]  # x already mirrored by the matrix
            joints3d = joints3d[list(js.SPIN_24.flip_perm)]
            joints3d[:, 0] *= -1.0
            pose = flip_smpl_pose(pose)
        return {
            "image": crop.numpy(),
            "keypoints": keypoints.astype(np.float32),
            "joints3d": joints3d.astype(np.float32),
            "pose": pose.astype(np.float32),
            "betas": self.betas[index].astype(np.float32),
            "has_3d": np.float32(self.has_3d[index]),
            "has_smpl": np.float32(self.has_smpl[index]),
        }


class MocapData:
    """Unpaired SMPL parameters for the adversarial prior.

    Args:
        path: npz with `poses (N, 72)` axis-angle radians and `betas (N, 10)`.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"mocap file not found: {path}; expected an npz with poses (N, 72) and betas (N, 10)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except ValueError as error:
            raise InputError(f"{path}: not an npz without pickles ({' '.join(str(error).split())[:200]})") from None
        poses, betas = arrays.get("poses"), arrays.get("betas")
        if poses is None or betas is None or poses.ndim != 2 or poses.shape[1] != 72 or betas.shape != (len(poses), 10):
            got = {k: v.shape for k, v in arrays.items()}
            raise InputError(f"{path}: mocap needs poses (N, 72) and betas (N, 10); got {got}")
        if len(poses) == 0:
            raise InputError(f"{path}: the mocap file holds no poses")
        self.poses = poses.astype(np.float32)
        self.betas = betas.astype(np.float32)

    def __len__(self) -> int:
        return len(self.poses)


class BatchSource(torch.utils.data.Dataset):
    """Item k is the whole training batch of step k (for this rank): indices, augmentation and
    mocap draws come from a generator seeded with (seed, k, rank), so batches never depend on
    what ran before.

    Args:
        datasets: sampled uniformly over all their samples together.
        mocap: the prior's real samples.
        batch_size: images per batch.
        mocap_batch_size: mocap samples per batch.
        image_size: crop side, pixels.
        augmentation: settings.
        seed: run seed.
        rank: process rank (DDP), 0 alone.
    """

    def __init__(self, datasets: list[SpinDataset], mocap: MocapData, batch_size: int, mocap_batch_size: int,
                 image_size: int, augmentation: Augmentation, seed: int, rank: int = 0) -> None:
        if not datasets or sum(len(d) for d in datasets) == 0:
            raise InputError("no training samples: the config's datasets are empty")
        self.datasets, self.mocap = datasets, mocap
        self.batch_size, self.mocap_batch_size = batch_size, mocap_batch_size
        self.image_size, self.augmentation = image_size, augmentation
        self.seed, self.rank = seed, rank
        self.offsets = np.cumsum([0] + [len(d) for d in datasets])

    def __len__(self) -> int:
        return 2**62  # indexed by step

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of `step`: image (B, 3, S, S), keypoints (B, 24, 3), joints3d (B, 24, 4),
        pose (B, 72), betas (B, 10), has_3d (B,), has_smpl (B,), mocap_pose (M, 72),
        mocap_betas (M, 10)."""
        rng = np.random.default_rng([self.seed, int(step), self.rank])
        flat = rng.integers(0, self.offsets[-1], size=self.batch_size)
        samples = []
        for index in flat:
            which = int(np.searchsorted(self.offsets, index, side="right") - 1)
            samples.append(self.datasets[which].sample(int(index - self.offsets[which]), self.image_size,
                                                       self.augmentation, rng))
        batch = {key: torch.from_numpy(np.stack([s[key] for s in samples])) for key in samples[0]}
        mocap_index = rng.integers(0, len(self.mocap), size=self.mocap_batch_size)
        batch["mocap_pose"] = torch.from_numpy(self.mocap.poses[mocap_index])
        batch["mocap_betas"] = torch.from_numpy(self.mocap.betas[mocap_index])
        return batch


# --------------------------------------------------------------------------------------------
# Synthetic data


@dataclass
class SyntheticFiles:
    """What `write_synthetic_dataset` wrote."""

    npz: Path
    image_root: Path
    mocap: Path


def _random_orient(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) global orientations: upright in the y-down camera frame (π about x), turned about
    the vertical by up to ±60°."""
    upright = axis_angle_to_matrix(torch.tensor([np.pi, 0.0, 0.0], dtype=torch.float64))
    yaw = rng.uniform(-np.pi / 3, np.pi / 3, size=n)
    turn = axis_angle_to_matrix(torch.from_numpy(np.stack([np.zeros(n), yaw, np.zeros(n)], axis=-1)))
    return matrix_to_axis_angle(turn @ upright).numpy()


def _draw_keypoints(rng: np.random.Generator, size: int, keypoints: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(size, size, 3) uint8: dim noise with a coloured 5 × 5 square at each keypoint."""
    image = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    for (x, y), colour in zip(np.round(keypoints).astype(int), colours):
        image[max(y - 2, 0):max(y + 3, 0), max(x - 2, 0):max(x + 3, 0)] = colour
    return image


def write_synthetic_dataset(out_dir: str | os.PathLike, num_samples: int = 64, image_size: int = 128,
                            num_mocap: int = 512, focal_length: float = 500.0, image_format: str = "png",
                            seed: int = 0, body_model: str = "mannequin") -> SyntheticFiles:
    """Write a small SPIN-layout dataset posed with the body model, and a mocap file.

    Poses come from `body_models.motion.sample_poses`, upright with a random turn, betas from
    N(0, 0.5²); each body stands 8–10 m in front of a camera of focal length `focal_length`,
    and its 24 SPIN joints are projected into an `image_size` square image drawn as coloured
    squares on noise. The npz has imgname, center, scale (1.2 × the keypoint box), part, S
    (pelvis-centred, metres), pose, shape, has_smpl.

    Args:
        out_dir: folder to write `synthetic.npz`, `images/` and `mocap.npz` into.
        num_samples: images.
        image_size: image side, pixels.
        num_mocap: poses in `mocap.npz` (drawn with another seed).
        focal_length: pixels.
        image_format: "png" (needs Pillow) or "npy".
        seed: the same seed writes the same files.
        body_model: "mannequin" or a path to an SMPL model file.

    Returns:
        SyntheticFiles with the paths.
    """
    from body_models.smpl import load_smpl

    if image_format not in ("png", "npy"):
        raise InputError(f"image_format must be 'png' or 'npy', got {image_format!r}")
    out_dir = Path(out_dir)
    image_root = out_dir / "images"
    image_root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    smpl = load_smpl(body_model)

    body_pose = sample_poses(num_samples, seed=seed).astype(np.float64)
    pose = np.concatenate([_random_orient(rng, num_samples), body_pose], axis=1)  # (N, 72)
    betas = 0.5 * rng.normal(size=(num_samples, 10))
    transl = np.stack([rng.uniform(-0.3, 0.3, num_samples), rng.uniform(-0.2, 0.2, num_samples),
                       rng.uniform(8.0, 10.0, num_samples)], axis=-1)
    with torch.no_grad():
        out = smpl(betas=torch.as_tensor(betas, dtype=torch.float32),
                   body_pose=torch.as_tensor(pose[:, 3:], dtype=torch.float32),
                   global_orient=torch.as_tensor(pose[:, :3], dtype=torch.float32))
    joints = out.joint_set("spin_24").double().numpy() + transl[:, None]  # (N, 24, 3) camera frame
    pixels = perspective_project(joints, focal_length, np.full(2, image_size / 2.0))  # (N, 24, 2)
    pelvis = joints[:, list(js.LSP_14.index(n) for n in ("left_hip", "right_hip"))].mean(axis=1, keepdims=True)

    low, high = pixels.min(axis=1), pixels.max(axis=1)
    center = 0.5 * (low + high)
    scale = 1.2 * (high - low).max(axis=1) / 200.0
    colours = np.random.default_rng(12345).integers(80, 256, size=(len(js.SPIN_24), 3), dtype=np.uint8)
    names = []
    for i in range(num_samples):
        image = _draw_keypoints(rng, image_size, pixels[i], colours)
        name = f"images/{i:06d}.{image_format}"
        if image_format == "npy":
            with atomic_path(out_dir / name) as tmp:
                np.save(tmp, image)
        else:
            from PIL import Image

            with atomic_path(out_dir / name) as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
        names.append(name)

    ones = np.ones((num_samples, len(js.SPIN_24), 1))
    npz = save_npz(out_dir / "synthetic.npz", imgname=np.array(names), center=center, scale=scale,
                   part=np.concatenate([pixels, ones], axis=-1), S=np.concatenate([joints - pelvis, ones], axis=-1),
                   pose=pose, shape=betas, has_smpl=np.ones(num_samples))
    mocap_rng = np.random.default_rng(seed + 1)
    mocap_pose = np.concatenate([_random_orient(mocap_rng, num_mocap), sample_poses(num_mocap, seed=seed + 1)], axis=1)
    mocap = save_npz(out_dir / "mocap.npz", poses=mocap_pose.astype(np.float32),
                     betas=(0.5 * mocap_rng.normal(size=(num_mocap, 10))).astype(np.float32))
    return SyntheticFiles(npz=npz, image_root=out_dir, mocap=mocap)
