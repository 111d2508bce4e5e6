"""A synthetic Human3.6M-layout dataset: the mannequin in procedural motion, seen by the
published Human3.6M cameras, written as VideoPose3D's ``data_3d_h36m.npz`` and
``data_2d_h36m_gt.npz``.

    paths = make_synthetic_h36m("data/synthetic", frames=200)
    results = evaluate_h36m_files(model, paths["3d"], paths["2d"])

The mannequin's H36M-17 joints are placed in the Human3.6M world frame (z up, metres, the body
standing near the origin, where the four cameras look), expanded to the raw 32-joint layout, and
projected through each camera with its distortion (``body_models.cameras.project_to_2d``), as
VideoPose3D's ``prepare_data_h36m.py`` makes the ``gt`` 2D file. With ``keypoints="coco"`` the
cameras see the mannequin's COCO-17 joints instead (``data_2d_h36m_synthetic_coco.npz``, ``coco``
layout), the input of COCO-17 lifters such as the demo lifter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from body_models.cameras import image_coordinates, project_to_2d, world_to_camera
from body_models.errors import InputError
from body_models.joints import COCO_17, H36M_17
from body_models.motion import generate_motion
from body_models.motion_world import generate_world_motion
from lifting.data import (H36M_FPS, LAYOUT_METADATA, Keypoints2DFile, TEST_SUBJECTS, TRAIN_SUBJECTS,
                          expand_17_to_32, h36m_cameras, save_h36m_2d, save_h36m_3d)

DEFAULT_ACTIONS: Mapping[str, str] = {
    "Walking": "walk", "Greeting": "wave", "Sitting": "squat", "Purchases": "reach",
    "Waiting": "idle", "Directions": "turn", "Posing": "jumping_jack",
}
"""Human3.6M action name → ``body_models.motion`` kind used to stand in for it."""

WORLD_ACTIONS: Mapping[str, str] = {"World": "world"}
"""One action whose takes are clips of the motion world (``body_models.motion_world``: many
movements with transitions, wandering around the mannequin's pose prior)."""
WORLD_ARENA_M = 1.0  # metres: world clips that travel turn back within about this of their start
WORLD_PRIOR_SCALE = 0.25

# SMPL's body frame is y up, z forward; Human3.6M's world frame is z up: (x, y, z) → (x, −z, y).
BODY_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def synthetic_sequence(kind: str, frames: int, seed: int, smpl=None) -> np.ndarray:
    """One mannequin motion clip as H36M-17 joints in the Human3.6M world frame.

    The body turns to a seeded heading, its lowest joint over the clip touches z = 0 and its
    pelvis starts within 0.5 m of the origin.

    Returns:
        (T, 17, 3) float32 metres, world frame.
    """
    return synthetic_joint_sets(kind, frames, seed, smpl)[H36M_17.name]


def synthetic_joint_sets(kind: str, frames: int, seed: int, smpl=None,
                         joint_sets: Sequence[str] = (H36M_17.name,)) -> dict[str, np.ndarray]:
    """One mannequin motion clip as several joint sets, all placed by the same rigid motion.

    Args:
        kind: a ``body_models.motion`` kind, or "world" for a clip of the motion world.
        frames: T.
        seed: varies the motion, the heading and the start position.
        smpl: an ``SMPL`` layer with the H36M (and, for COCO-17, the extra) regressors.
        joint_sets: names for ``SMPLOutput.joint_set``; "h36m_17" is always included, since
            it decides the placement.

    Returns:
        name → (T, J, 3) float32 metres, Human3.6M world frame (z up). The body turns to a
        seeded heading, its lowest H36M joint over the clip touches z = 0 and its pelvis starts
        within 0.5 m of the origin.
    """
    from body_models.smpl import load_smpl

    smpl = smpl or load_smpl("mannequin")
    if kind == "world":
        from body_models.mannequin import gmm_prior_path
        from body_models.priors import load_gmm

        clip = generate_world_motion(frames, fps=H36M_FPS, seed=seed, prior=load_gmm(gmm_prior_path()),
                                     prior_scale=WORLD_PRIOR_SCALE, arena_radius=WORLD_ARENA_M)
    else:
        clip = generate_motion(kind, frames, fps=H36M_FPS, seed=seed)
    with torch.no_grad():
        body = smpl(betas=torch.zeros(frames, smpl.num_betas), body_pose=torch.as_tensor(clip.body_pose),
                    global_orient=torch.as_tensor(clip.global_orient), transl=torch.as_tensor(clip.transl))
    names = [H36M_17.name] + [name for name in joint_sets if name != H36M_17.name]
    sets = {name: body.joint_set(name).double().numpy() @ BODY_TO_WORLD.T for name in names}  # z up
    rng = np.random.default_rng(seed)
    heading = rng.uniform(-np.pi, np.pi)
    cos, sin = np.cos(heading), np.sin(heading)
    turn = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    sets = {name: joints @ turn.T for name, joints in sets.items()}
    h36m = sets[H36M_17.name]
    offset = np.append(rng.uniform(-0.5, 0.5, 2) - h36m[0, 0, :2], -h36m[..., 2].min())
    return {name: (joints + offset).astype(np.float32) for name, joints in sets.items()}


def make_synthetic_h36m(out_dir: str | os.PathLike, frames: int = 250,
                        subjects: Sequence[str] = TRAIN_SUBJECTS + TEST_SUBJECTS,
                        actions: Mapping[str, str] = DEFAULT_ACTIONS, takes: int = 2, seed: int = 0,
                        smpl=None, keypoints: str = "gt") -> dict[str, Path]:
    """Write ``data_3d_h36m.npz`` and a 2D keypoint file for a synthetic Human3.6M.

    Args:
        out_dir: output folder.
        frames: T per sequence (50 fps).
        subjects: subjects with published cameras (S1, S5–S9, S11).
        actions: action name → motion kind ("world": the motion world, ``WORLD_ACTIONS``);
            take k > 0 is named "<action> <k>", as in Human3.6M.
        takes: sequences per action and subject.
        seed: the same arguments give the same files.
        smpl: an ``SMPL`` layer with the H36M regressor; the mannequin when None.
        keypoints: which 2D joints the cameras see: "gt" projects the H36M-17 joints into
            ``data_2d_h36m_gt.npz`` (as VideoPose3D's ``gt`` file, no ``layout_name``); "coco"
            projects the mannequin's COCO-17 joints (nose, eyes and ears from surface points)
            into ``data_2d_h36m_synthetic_coco.npz`` with the ``coco`` layout metadata, the input
            of COCO-17 lifters such as ``pretrained_h36m_detectron_coco.bin``.

    Returns:
        {"3d": path, "2d": path}.
    """
    from body_models.smpl import load_smpl

    if int(frames) < 1 or int(takes) < 1:
        raise InputError(f"frames and takes must be positive, got {frames} and {takes}")
    if keypoints not in ("gt", "coco"):
        raise InputError(f"keypoints must be 'gt' (H36M-17) or 'coco' (COCO-17), got {keypoints!r}")
    seen = H36M_17.name if keypoints == "gt" else COCO_17.name
    smpl = smpl or load_smpl("mannequin")
    positions_3d: dict[str, dict[str, np.ndarray]] = {}
    positions_2d: dict[str, dict[str, list[np.ndarray]]] = {}
    for s_index, subject in enumerate(subjects):
        cams = h36m_cameras(subject)
        if cams[0].orientation is None:
            raise InputError(f"subject {subject} has no published camera extrinsics")
        positions_3d[subject], positions_2d[subject] = {}, {}
        for a_index, (action, kind) in enumerate(actions.items()):
            for take in range(takes):
                name = action if take == 0 else f"{action} {take}"
                clip_seed = seed * 1_000_003 + (s_index * 101 + a_index) * 17 + take
                joints = synthetic_joint_sets(kind, frames, clip_seed, smpl, (seen,))
                positions_3d[subject][name] = expand_17_to_32(joints[H36M_17.name])
                views = []
                for cam in cams:
                    camera = world_to_camera(joints[seen], cam.orientation, cam.translation)
                    normalized = project_to_2d(camera, cam.intrinsic)
                    views.append(image_coordinates(normalized, w=cam.res_w, h=cam.res_h).astype(np.float32))
                positions_2d[subject][name] = views
    out_dir = Path(out_dir)
    if keypoints == "gt":
        metadata = {"num_joints": 17, "keypoints_symmetry": [list(H36M_17.left), list(H36M_17.right)]}  # no layout_name
        name_2d = "data_2d_h36m_gt.npz"
    else:
        metadata = dict(LAYOUT_METADATA["coco"])
        name_2d = "data_2d_h36m_synthetic_coco.npz"
    return {
        "3d": save_h36m_3d(out_dir / "data_3d_h36m.npz", positions_3d),
        "2d": save_h36m_2d(out_dir / name_2d, Keypoints2DFile(positions_2d, metadata)),
    }
