"""The synthetic image world as SPIN-layout regressor datasets, and mocap for the adversarial prior.

``world_to_spin(world_dir)`` reads the COCO files of ``hmr make-synthetic-images`` (each
annotation carries the body's SMPL parameters and camera) and writes, next to them,
``spin/{train,val}.npz`` in the layout `hmr.regressor.data.SpinDataset` reads (FORMATS §3.9) and
``spin/mocap.npz`` for the discriminator, and ``spin/{train,val}_keypoints.npz``, the world's COCO
2D keypoints in the layout of the SMPLify keypoints files of ``hmr eval --smplify-keypoints``.

- The 2D and 3D joints are the body model's own `spin_24` joints of the stored parameters, in the
  camera frame, so the regressor's targets are exactly what its body model can produce. 2D
  confidence is 1 inside the image and 0 outside; the COCO-17 joints also take COCO's v = 0.
- The box is the annotation's COCO `bbox`, cut as the pipeline cuts its detector boxes: center the
  box centre, scale 1.2 · max(w, h) / 200 (`hmr.regressor.crops.crop_boxes(rescale=1.2)`).
- 3D joints are pelvis-centred (mean of the hips, as SPIN's datasets), metres, confidence 1.
- The mocap is not the training poses: poses of the motion world (`body_models.motion_world`, which
  the images do not use) and draws from the pose prior's GMM under other seeds, each with a random
  upright heading, and betas from N(0, 1) clipped to ±2.5 like the world's bodies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import save_npz
from body_models.cameras import perspective_project
from body_models.errors import InputError, MissingFileError

__all__ = ["BOX_RESCALE", "world_to_spin", "world_mocap"]

BOX_RESCALE = 1.2  # the pipeline's context factor around a person box (SPIN's 3DPW rule)
SPLITS = ("train", "val")
_COCO_IN_SPIN = [js.SPIN_24.index(name) for name in js.COCO_17.names]


def _read_annotations(path: Path) -> tuple[list[dict], dict[int, dict]]:
    if not path.is_file():
        raise MissingFileError(f"{path} not found; write the world first: hmr make-synthetic-images --out DIR")
    try:
        data = json.loads(path.read_text())
        annotations, images = data["annotations"], {image["id"]: image for image in data["images"]}
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a COCO keypoint file ({error})") from None
    if annotations and "smpl" not in annotations[0]:
        raise InputError(f"{path}: the annotations carry no 'smpl' truth; only files written by "
                         f"hmr make-synthetic-images can become regressor datasets")
    return annotations, images


def _split_arrays(annotations: list[dict], images: dict[int, dict], body_model, chunk: int = 256) -> dict[str, np.ndarray]:
    names, centers, scales, parts, joints3d, poses, betas = [], [], [], [], [], [], []
    for start in range(0, len(annotations), chunk):
        rows = annotations[start:start + chunk]
        smpl = {key: torch.tensor([row["smpl"][key] for row in rows], dtype=torch.float32)
                for key in ("global_orient", "body_pose", "betas", "transl")}
        with torch.no_grad():
            out = body_model(betas=smpl["betas"], body_pose=smpl["body_pose"], global_orient=smpl["global_orient"])
        camera = out.joint_set("spin_24").double().numpy() + smpl["transl"].double().numpy()[:, None]  # (B, 24, 3)
        for row, joints in zip(rows, camera):
            image = images[row["image_id"]]
            focal, principal = row["camera"]["focal_length"], row["camera"]["principal_point"]
            pixels = perspective_project(joints, np.asarray(focal), np.asarray(principal))  # (24, 2)
            inside = ((pixels >= 0) & (pixels < [image["width"], image["height"]])).all(-1)
            confidence = inside.astype(np.float64)
            coco_v = np.asarray(row["keypoints"], dtype=np.float64).reshape(17, 3)[:, 2]
            confidence[_COCO_IN_SPIN] *= coco_v > 0
            x, y, w, h = row["bbox"]
            pelvis = joints[[js.SPIN_24.index("left_hip"), js.SPIN_24.index("right_hip")]].mean(0)
            names.append(image["file_name"])
            centers.append([x + w / 2.0, y + h / 2.0])
            scales.append(BOX_RESCALE * max(w, h) / 200.0)
            parts.append(np.concatenate([pixels, confidence[:, None]], -1))
            joints3d.append(np.concatenate([joints - pelvis, np.ones((24, 1))], -1))
            poses.append(np.concatenate([row["smpl"]["global_orient"], row["smpl"]["body_pose"]]))
            betas.append(row["smpl"]["betas"])
    return {"imgname": np.array(names), "center": np.array(centers), "scale": np.array(scales),
            "part": np.array(parts), "S": np.array(joints3d), "pose": np.array(poses),
            "shape": np.array(betas), "has_smpl": np.ones(len(names)),
            "coco_keypoints": np.array([_coco_keypoints(row) for row in annotations])}


def _coco_keypoints(row: dict) -> np.ndarray:
    """(17, 3) COCO pixels with confidence 1 where labelled (v > 0), 0 elsewhere."""
    keypoints = np.asarray(row["keypoints"], dtype=np.float64).reshape(17, 3)
    return np.concatenate([keypoints[:, :2], (keypoints[:, 2:] > 0).astype(np.float64)], -1)


def world_mocap(num: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Mocap for the prior that the world's images do not use: half motion-world poses, half
    pose-prior draws (seeds other than the images'), upright with a random heading.

    Returns:
        {"poses": (num, 72) float32 axis-angle (root first), "betas": (num, 10) float32}.
    """
    from body_models.motion import clamp_to_limits
    from body_models.motion_world import sample_world_poses
    from body_models.mannequin import gmm_prior_path
    from body_models.priors import load_gmm
    from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    rng = np.random.default_rng([seed, 7919])
    prior = load_gmm(gmm_prior_path())
    half = num // 2
    world = sample_world_poses(half, seed=seed)
    component = rng.choice(len(prior.weights), size=num - half, p=prior.weights / prior.weights.sum())
    drawn = np.stack([rng.multivariate_normal(prior.means[k], prior.covars[k]) for k in component])
    body = np.concatenate([world, np.asarray(clamp_to_limits(drawn.astype(np.float32)))]).astype(np.float64)
    heading = rng.uniform(-np.pi, np.pi, size=num)
    turn = axis_angle_to_matrix(torch.from_numpy(np.stack([np.zeros(num), heading, np.zeros(num)], -1)))
    upright = axis_angle_to_matrix(torch.tensor([np.pi, 0.0, 0.0], dtype=torch.float64))
    root = matrix_to_axis_angle(upright @ turn).numpy()
    return {"poses": np.concatenate([root, body], 1).astype(np.float32),
            "betas": np.clip(rng.normal(size=(num, 10)), -2.5, 2.5).astype(np.float32)}


def world_to_spin(world_dir: str | os.PathLike, body_model: str = "mannequin", num_mocap: int = 20000,
                  seed: int = 1) -> dict[str, Path]:
    """Write ``world_dir/spin/{train,val}.npz``, ``{train,val}_keypoints.npz`` and ``mocap.npz``.

    Args:
        world_dir: a folder written by ``hmr make-synthetic-images`` (``annotations/``, ``images/``).
        body_model: the body the world was posed with ("mannequin" or an SMPL file).
        num_mocap: poses in the prior's mocap file.
        seed: mocap seed.

    Returns:
        {"train", "val", "train_keypoints", "val_keypoints", "mocap"} → path; the datasets' images
        live in ``world_dir/images``.
    """
    from body_models.smpl import load_smpl

    world_dir = Path(world_dir)
    smpl = load_smpl(body_model)
    written = {}
    for split in SPLITS:
        annotations, images = _read_annotations(world_dir / "annotations" / f"person_keypoints_{split}.json")
        if not annotations:
            raise InputError(f"{world_dir}: the {split} split has no people")
        arrays = _split_arrays(annotations, images, smpl)
        keypoints = arrays.pop("coco_keypoints")
        written[split] = save_npz(world_dir / "spin" / f"{split}.npz", **arrays)
        written[f"{split}_keypoints"] = save_npz(world_dir / "spin" / f"{split}_keypoints.npz", imgname=arrays["imgname"],
                                                 keypoints=keypoints, joint_set=np.str_("coco_17"),
                                                 actor=np.zeros(len(keypoints), dtype=np.int64))
    written["mocap"] = save_npz(world_dir / "spin" / "mocap.npz", **world_mocap(num_mocap, seed))
    return written
