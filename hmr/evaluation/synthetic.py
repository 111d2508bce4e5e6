"""Small synthetic benchmark files in the official layouts, for tests and smoke runs.

Every writer draws bodies with the mannequin (procedural poses, random orientation and shape),
writes the annotations exactly as the published files lay them out and small noise images where
the images live, and returns the paths. Nothing here is real data; the numbers a model gets on
these files only show that the harness runs.

- ``write_h36m_mesh``: SPIN's ``h36m_valid_protocol{1,2}.npz`` + ``images/<S>_<action>.<cam>_<frame>.jpg``.
- ``write_3dpw``: ``sequenceFiles/test/<seq>.pkl`` (Python pickle protocol 2, as the Python 2
  originals; the project only ever reads pickles with the restricted unpickler) +
  ``imageFiles/<seq>/image_%05d.jpg``.
- ``write_3dhp``: ``mpi_inf_3dhp_test_set/TS1..TS6/annot_data.mat`` as MATLAB v7.3 (HDF5 with the
  512-byte MATLAB header) + ``imageSequence/img_%06d.jpg``.
- ``write_smplify_keypoints``: COCO-17 keypoints for a SPIN-layout npz, for the SMPLify variant.
- ``write_spin_checkpoint`` / ``write_videopose3d_checkpoint``: random weights in the official layouts.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import atomic_path, save_npz, write_bytes

CAMERAS = ("54138969", "55011271", "58860488", "60457274")
"""Human3.6M camera ids; protocol 2 keeps only the last."""

_MATLAB_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2026 HDF5 schema 1.00 ."


def random_bodies(n: int, seed: int, smpl=None) -> dict[str, np.ndarray]:
    """Mannequin bodies: ``pose (n, 72)`` axis-angle (root turned upright in the camera frame),
    ``betas (n, 10)``, ``h36m (n, 17, 3)`` metres (VideoPose3D order, pelvis-relative) and
    ``coco (n, 17, 3)`` metres, pelvis-relative."""
    from body_models.motion import sample_poses
    from body_models.smpl import load_smpl

    smpl = smpl or load_smpl("mannequin")
    rng = np.random.default_rng(seed)
    body_pose = sample_poses(n, seed=seed).astype(np.float64)
    root = np.zeros((n, 3))
    root[:, 0] = np.pi + rng.normal(0.0, 0.2, n)  # upright in the y-down camera frame
    root[:, 1] = rng.uniform(-np.pi, np.pi, n)
    betas = rng.normal(0.0, 0.8, (n, 10))
    with torch.no_grad():
        out = smpl(betas=torch.as_tensor(betas, dtype=torch.float32), body_pose=torch.as_tensor(body_pose, dtype=torch.float32),
                   global_orient=torch.as_tensor(root, dtype=torch.float32))
        h36m = out.h36m.double().numpy()
        coco = out.joint_set("coco_17").double().numpy()
    pelvis = h36m[:, :1]
    return {"pose": np.concatenate([root, body_pose], axis=1), "betas": betas,
            "h36m": h36m - pelvis, "coco": coco - pelvis}


def _write_image(path: Path, size: tuple[int, int], rng: np.random.Generator) -> None:
    from PIL import Image

    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    write_bytes(path, buffer.getvalue())


def _project(points: np.ndarray, center: np.ndarray, pixels_per_m: float) -> np.ndarray:
    """(..., J, 3) metres → (..., J, 2) pixels by a scaled orthographic view around ``center``."""
    return points[..., :2] * pixels_per_m + center


def write_h36m_mesh(out_dir: str | os.PathLike, protocol: int = 1, subjects: Sequence[str] = ("S9", "S11"),
                    actions: Sequence[str] = ("Directions_1", "Walking"), frames: int = 2, image_size: int = 96,
                    seed: int = 0, smpl=None) -> dict[str, Path]:
    """SPIN's ``h36m_valid_protocol{protocol}.npz`` and its images under ``out_dir``.

    Frames are every 5th (1, 6, 11, … as SPIN numbers them); protocol 2 has camera 60457274 only.

    Returns:
        {"npz": path, "images": out_dir (the root ``imgname`` is relative to)}.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    cameras = CAMERAS if protocol == 1 else (CAMERAS[-1],)
    names = [f"images/{s}_{a}.{c}_{5 * f + 1:06d}.jpg" for s in subjects for a in actions for c in cameras
             for f in range(frames)]
    bodies = random_bodies(len(names), seed, smpl)
    spin_rows = [js.SPIN_24.index(n) for n in js.SPIN_EVAL_17]
    h36m_rows = js.index_map(js.H36M_17, js.SPIN_24, js.SPIN_EVAL_17)
    joints = np.zeros((len(names), len(js.SPIN_24), 4))
    joints[:, spin_rows, :3] = bodies["h36m"][:, list(h36m_rows)]  # SPIN's placement of the 17 H36M joints
    joints[:, spin_rows, 3] = 1.0
    for name in names:
        _write_image(out_dir / name, (image_size, image_size), rng)
    center = np.full((len(names), 2), image_size / 2.0)
    scale = np.full(len(names), 0.9 * image_size / 200.0)
    npz = save_npz(out_dir / f"h36m_valid_protocol{protocol}.npz", imgname=np.array(names), center=center,
                   scale=scale, S=joints)
    return {"npz": npz, "images": out_dir, "coco_pixels": _project(bodies["coco"], center[:, None], image_size / 2.5)}


def write_smplify_keypoints(path: str | os.PathLike, imgnames: Sequence[str], keypoints: np.ndarray,
                            actors: Sequence[int] | None = None) -> Path:
    """A keypoints file for the SMPLify variant: ``imgname``, ``keypoints (N, 17, 3)`` COCO pixels with
    confidence, ``joint_set``, ``actor``."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape[-1] == 2:
        keypoints = np.concatenate([keypoints, np.ones(keypoints.shape[:-1] + (1,))], axis=-1)
    actors = np.zeros(len(imgnames), dtype=np.int64) if actors is None else np.asarray(actors, dtype=np.int64)
    return save_npz(path, imgname=np.array(list(imgnames)), keypoints=keypoints, joint_set=np.str_("coco_17"),
                    actor=actors)


def write_3dpw(out_dir: str | os.PathLike, sequences: Sequence[tuple[str, int]] = (("downtown_walk_00", 1),
                                                                                   ("courtyard_dance_00", 2)),
               frames: int = 5, invalid: Sequence[int] = (2,), image_size: tuple[int, int] = (96, 128),
               split: str = "test", seed: int = 0, smpl=None) -> dict[str, Path]:
    """3DPW ``sequenceFiles/<split>/<seq>.pkl`` (and the images) in the official layout.

    Args:
        sequences: (name, number of actors) per sequence file.
        frames: N image frames per sequence.
        invalid: frame indices whose ``campose_valid`` is 0 for actor 0.
        image_size: (width, height) pixels.
        split: "test", "train" or "validation".

    Returns:
        {"root": out_dir, "folder": the split folder}.
    """
    from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    folder = out_dir / "sequenceFiles" / split
    for s_index, (name, actors) in enumerate(sequences):
        # A random rigid camera per frame; the world pose is the camera-frame pose turned back.
        angles = rng.normal(0.0, 0.3, (frames, 3))
        cam_rot = axis_angle_to_matrix(torch.from_numpy(angles)).numpy()  # (N, 3, 3)
        cam_poses = np.tile(np.eye(4), (frames, 1, 1))
        cam_poses[:, :3, :3] = cam_rot
        cam_poses[:, :3, 3] = rng.normal(0.0, 1.0, (frames, 3))
        record = {"sequence": name, "betas": [], "poses": [], "trans": [], "genders": [], "poses2d": [],
                  "campose_valid": [], "jointPositions": [], "cam_poses": cam_poses,
                  "cam_intrinsics": np.array([[1000.0, 0, image_size[0] / 2], [0, 1000.0, image_size[1] / 2], [0, 0, 1]]),
                  "img_frame_ids": np.arange(frames), "betas_clothed": [], "v_template_clothed": [],
                  "texture_maps": [], "poses_60Hz": [], "trans_60Hz": []}
        for actor in range(actors):
            bodies = random_bodies(frames, seed * 1000 + s_index * 10 + actor, smpl)
            camera_root = axis_angle_to_matrix(torch.from_numpy(bodies["pose"][:, :3])).numpy()
            world_root = np.transpose(cam_rot, (0, 2, 1)) @ camera_root  # R_cam · R_world = R_camera-frame
            poses = bodies["pose"].copy()
            poses[:, :3] = matrix_to_axis_angle(torch.from_numpy(world_root)).numpy()
            betas = np.concatenate([bodies["betas"][0], np.zeros(6)])  # stored longer than 10, loaders take [:10]
            center = np.array(image_size, dtype=np.float64) / 2.0 + 10.0 * actor
            coco_px = _project(bodies["coco"], center, min(image_size) / 2.5)  # (N, 17, 2)
            openpose18 = np.zeros((frames, 18, 3))
            openpose18[:, :17, :2] = coco_px  # placement only matters for the box
            openpose18[:, :17, 2] = 0.9
            openpose18[:, 5, 2] = 0.0  # one undetected joint: excluded from the box
            valid = np.ones(frames, dtype=bool)
            if actor == 0:
                valid[[i for i in invalid if i < frames]] = False
            record["betas"].append(betas)
            record["poses"].append(poses)
            record["trans"].append(np.zeros((frames, 3)))
            record["genders"].append("m" if (s_index + actor) % 2 == 0 else "f")
            record["poses2d"].append(openpose18.transpose(0, 2, 1))  # (N, 3, 18)
            record["campose_valid"].append(valid)
            record["jointPositions"].append(np.zeros((frames, 72)))
        with atomic_path(folder / f"{name}.pkl") as tmp:
            tmp.write_bytes(pickle.dumps(record, protocol=2))
        for f in range(frames):
            _write_image(out_dir / "imageFiles" / name / f"image_{f:05d}.jpg", image_size, rng)
    return {"root": out_dir, "folder": folder}


def write_3dhp(out_dir: str | os.PathLike, frames: int = 4, image_size: tuple[int, int] = (96, 96), seed: int = 0,
               sequences: Sequence[str] = tuple(f"TS{k}" for k in range(1, 7)), smpl=None) -> dict[str, Path]:
    """``mpi_inf_3dhp_test_set/TSk/annot_data.mat`` (MATLAB v7.3) and the images.

    Per sequence frame 0 is not valid, frame 1 has a joint outside the image (SPIN drops it), the
    rest are evaluated; activities cycle through 1..7.

    Returns:
        {"root": out_dir, "test_set": out_dir / "mpi_inf_3dhp_test_set"}.
    """
    import h5py

    out_dir = Path(out_dir)
    test_set = out_dir / "mpi_inf_3dhp_test_set"
    rng = np.random.default_rng(seed)
    to_mpi = js.index_map(js.H36M_17, js.SPIN_24, js.SPIN_EVAL_17)  # H36M joint per SPIN eval slot
    mpi_from_spin = js.index_map(js.MPI_INF_3DHP_17, js.SPIN_24, js.SPIN_EVAL_17)  # MPI joint per SPIN eval slot
    for k, name in enumerate(sequences):
        bodies = random_bodies(frames, seed * 100 + k, smpl)
        h36m_eval = bodies["h36m"][:, list(to_mpi)]  # (n, 17, 3) in SPIN eval order
        mpi = np.zeros((frames, 17, 3))
        mpi[:, list(mpi_from_spin)] = h36m_eval  # MPI-INF-3DHP joint order
        mpi_mm = mpi * 1000.0 + np.array([0.0, 0.0, 4000.0])  # mm, camera frame
        annot2 = _project(mpi, np.array(image_size, dtype=np.float64) / 2.0, min(image_size) / 2.5)
        annot2[1, 0, 0] = image_size[0] + 5.0  # outside the image
        valid = np.ones(frames)
        valid[0] = 0
        activity = (np.arange(frames) + k) % 7 + 1
        path = test_set / name / "annot_data.mat"
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w", userblock_size=512) as handle:
                handle.create_dataset("annot2", data=annot2[:, None])  # (n, 1, 17, 2) as h5py reads it
                handle.create_dataset("annot3", data=mpi_mm[:, None])
                handle.create_dataset("univ_annot3", data=mpi_mm[:, None])
                handle.create_dataset("valid_frame", data=valid[:, None])
                handle.create_dataset("activity_annotation", data=activity[:, None].astype(np.float64))
                handle.create_dataset("bb_crop", data=np.zeros((frames, 34)))
            with open(tmp, "r+b") as raw:
                raw.write(_MATLAB_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
        for f in range(frames):
            _write_image(test_set / name / "imageSequence" / f"img_{f + 1:06d}.jpg", image_size, rng)
    return {"root": out_dir, "test_set": test_set}


def write_spin_checkpoint(path: str | os.PathLike, seed: int = 0) -> Path:
    """Random weights in SPIN's ``model_checkpoint.pt`` layout (``{"model": state dict, ...}``),
    starting from the mannequin's mean parameters."""
    from body_models import mannequin
    from hmr.regressor import HMR, load_mean_params

    torch.manual_seed(seed)
    model = HMR(mean_params=load_mean_params(mannequin.mean_params_path()))
    checkpoint = {"model": model.state_dict(), "optimizer": {}, "epoch": 0, "batch_idx": 0, "batch_size": 64,
                  "total_step_count": 0}
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def write_videopose3d_checkpoint(path: str | os.PathLike, filter_widths: Sequence[int] = (3, 3),
                                 channels: int = 64, num_joints_in: int = 17, num_joints_out: int = 17,
                                 seed: int = 0) -> Path:
    """Random weights in VideoPose3D's ``.bin`` layout (``{"epoch", "model_pos"}``)."""
    from lifting import TemporalModel

    torch.manual_seed(seed)
    model = TemporalModel(num_joints_in, 2, num_joints_out, list(filter_widths), channels=channels)
    with atomic_path(path) as tmp:
        torch.save({"epoch": 1, "lr": 0.001, "model_pos": model.state_dict()}, tmp)
    return Path(path)


def stand_in_parameters(imgname: str, actor: int = 0) -> dict[str, np.ndarray]:
    """Deterministic SMPL parameters for an image name: ``pose (72,)`` axis-angle (upright root
    plus a small random body pose), ``betas (10,)`` and ``cam (3,)``. What ``stand_in_predictor``
    predicts, so tests can recompute the expected errors on their own."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(f"{imgname}#{actor}".encode()))
    pose = np.concatenate([[np.pi, 0.0, 0.0] + rng.normal(0.0, 0.3, 3), rng.normal(0.0, 0.25, 69)])
    return {"pose": pose, "betas": rng.normal(0.0, 0.5, 10), "cam": np.array([0.9, 0.0, 0.0])}


def stand_in_predictor(actor: int = 0):
    """A ``types.Predictor`` that ignores the pixels and returns ``stand_in_parameters`` per image."""
    from body_models.rotations import axis_angle_to_matrix
    from hmr.evaluation.types import PredictedBodies

    def predict(images: torch.Tensor, imgnames: Sequence[str]) -> PredictedBodies:
        params = [stand_in_parameters(name, actor) for name in imgnames]
        pose = torch.as_tensor(np.stack([p["pose"] for p in params]), dtype=torch.float32)
        return PredictedBodies(rotmat=axis_angle_to_matrix(pose.reshape(-1, 24, 3)),
                               betas=torch.as_tensor(np.stack([p["betas"] for p in params]), dtype=torch.float32),
                               cam=torch.as_tensor(np.stack([p["cam"] for p in params]), dtype=torch.float32))

    return predict
