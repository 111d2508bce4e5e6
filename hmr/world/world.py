"""``world.npz``: the fitted people in a gravity-aligned world frame for a static camera.

    make_world("out/smpl.npz", smpl, "out/world.npz")

The world frame: y up (the ground plane's normal, ``hmr.world.ground``), the floor at y = 0, the
origin on the floor under the first frame's pelvis (of the person fitted in most frames), x the
camera's x laid onto the floor, z = x × y (towards the camera, roughly). Metres.

``world.npz`` (``body_models.sequences.WorldSequence``; T frames, P people, NaN and ``valid`` False
where a person has no fit):
``global_orient (T, P, 3)`` axis-angle radians and ``transl (T, P, 3)`` metres, world frame,
after the contact refinement when ``refined`` is True, else before it (``transl_unrefined``
and ``transl_refined`` hold both); ``joints (T, P, 24, 3)`` world metres, likewise (and
``joints_unrefined``, ``joints_refined``); ``contacts (T, P, 2)`` bool
for ``contact_names`` (left_foot, right_foot); ``camera_rotation (3, 3)`` and
``camera_position (3,)``: the camera in the world, x_world = camera_rotation @ x_camera +
camera_position; ``ground_plane (4,)`` (nx, ny, nz, d) with n · x + d = 0 in the camera frame,
n up; ``ground_inliers``; ``valid``, ``refined``, ``fps``, ``track_ids``, ``frame_indices``,
``schema_version``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from body_models.errors import InputError
from body_models.sequences import SMPLSequence, WorldSequence
from body_models.smpl import SMPL, rigid_transform_params
from hmr.world.contacts import CONTACT_NAMES, FOOT_JOINTS, contact_labels, refine_translation
from hmr.world.ground import GroundPlane, fit_ground_plane, foot_vertex_groups

CHUNK = 64  # frames per SMPL call


@dataclass(frozen=True)
class WorldFrame:
    """x_world = rotation @ (x_camera − origin), metres."""

    rotation: np.ndarray  # (3, 3)
    origin: np.ndarray  # (3,) camera frame

    @property
    def camera_position(self) -> np.ndarray:
        return -self.rotation @ self.origin

    def points(self, x: np.ndarray) -> np.ndarray:
        return (x - self.origin) @ self.rotation.T


def world_frame(plane: GroundPlane, pelvis: np.ndarray) -> WorldFrame:
    """The world frame of a ground plane, with the origin on the floor under ``pelvis`` (3,)."""
    up = plane.normal
    x = np.array([1.0, 0.0, 0.0]) - up[0] * up
    if np.linalg.norm(x) < 1e-6:  # the camera looks straight down or up
        x = np.array([0.0, 0.0, 1.0]) - up[2] * up
    x /= np.linalg.norm(x)
    z = np.cross(x, up)
    rotation = np.stack([x, up, z])
    return WorldFrame(rotation, pelvis - plane.height(pelvis) * up)


def _bodies(smpl: SMPL, fit: SMPLSequence, ok: np.ndarray, feet) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame joints (T, P, 24, 3) and foot vertices (T, P, G, 3) (NaN where not ok)."""
    t_all, p_all = ok.shape
    groups = np.concatenate(feet)
    joints = np.full((t_all, p_all, 24, 3), np.nan)
    foot = np.full((t_all, p_all, len(groups), 3), np.nan)
    rows, people = np.nonzero(ok)
    for start in range(0, len(rows), CHUNK):
        r, p = rows[start:start + CHUNK], people[start:start + CHUNK]
        with torch.no_grad():
            body = smpl(**{k: torch.as_tensor(v[r, p], dtype=torch.float32) for k, v in fit.smpl_parameters().items()})
        joints[r, p] = body.joints.double().numpy()
        foot[r, p] = body.vertices[:, groups].double().numpy()
    return joints, foot


def make_world(smpl_path: str | os.PathLike, smpl: SMPL, out_path: str | os.PathLike,
               refine: bool = False) -> Path:
    """Fit the floor, build the world frame, label contacts, refine, write ``world.npz``.

    Args:
        smpl_path: the run's ``smpl.npz`` (camera frame).
        smpl: the body model that made it.
        out_path: the ``world.npz`` to write.
        refine: ``transl`` and ``joints`` after pinning the contact feet
            (``hmr.world.contacts.refine_translation``); both versions are stored either way.
    """
    fit = SMPLSequence.load(smpl_path)
    ok = fit.posable
    if not ok.any():
        raise InputError(f"{smpl_path} holds no fitted frame; there is nobody to place in the world")
    fps = fit.fps or 30.0
    feet = foot_vertex_groups(smpl.smplx.lbs_weights.double().numpy())
    joints, foot = _bodies(smpl, fit, ok, feet)
    n_left = len(feet[0])
    group_index = (np.arange(n_left), np.arange(n_left, n_left + len(feet[1])))
    t_all, p_all = ok.shape
    # one plane for everybody: stack the people's frames (rows of other people are NaN-separated)
    stacked_joints = joints.transpose(1, 0, 2, 3).reshape(-1, 24, 3)
    stacked_feet = foot.transpose(1, 0, 2, 3).reshape(-1, foot.shape[2], 3)
    from scipy.spatial.transform import Rotation

    body_up = Rotation.from_rotvec(fit.global_orient[ok].astype(np.float64)).apply([0.0, 1.0, 0.0]).mean(0)
    plane = fit_ground_plane(stacked_feet, stacked_joints, fps, group_index, body_up / np.linalg.norm(body_up))
    main = int(np.argmax(ok.sum(0)))
    frame = world_frame(plane, joints[np.flatnonzero(ok[:, main])[0], main, 0])

    out = {name: np.full((t_all, p_all, 3), np.nan) for name in ("global_orient", "transl_refined", "transl_unrefined")}
    joints_w = frame.points(joints)
    joints_refined = joints_w.copy()
    contacts = np.zeros((t_all, p_all, 2), bool)
    rotation = torch.as_tensor(frame.rotation)
    for p in range(p_all):
        rows = np.flatnonzero(ok[:, p])
        if not len(rows):
            continue
        with torch.no_grad():
            root = smpl.rest_root(torch.as_tensor(fit.betas[rows, p], dtype=torch.float32)).double()
        orient, transl = rigid_transform_params(
            torch.as_tensor(fit.global_orient[rows, p], dtype=torch.float64),
            torch.as_tensor(fit.transl[rows, p], dtype=torch.float64), root, rotation,
            torch.as_tensor(frame.camera_position))
        out["global_orient"][rows, p] = orient.numpy()
        out["transl_unrefined"][rows, p] = transl.numpy()
        sole = np.stack([plane.height(foot[rows, p][:, g]).min(-1) for g in group_index], -1)  # (R, 2)
        foot_points = joints_w[rows, p][:, list(FOOT_JOINTS)]
        contacts[rows, p] = contact_labels(foot_points, sole, fps)
        refined = refine_translation(transl.numpy(), foot_points, sole, contacts[rows, p])
        out["transl_refined"][rows, p] = refined
        joints_refined[rows, p] += (refined - transl.numpy())[:, None]
    return WorldSequence(
        global_orient=out["global_orient"], transl=out["transl_refined" if refine else "transl_unrefined"],
        transl_unrefined=out["transl_unrefined"], transl_refined=out["transl_refined"],
        joints=joints_refined if refine else joints_w, joints_unrefined=joints_w, joints_refined=joints_refined,
        contacts=contacts, contact_names=np.array(CONTACT_NAMES), valid=ok, refined=refine,
        camera_rotation=frame.rotation, camera_position=frame.camera_position, ground_plane=plane.coefficients,
        ground_inliers=int(plane.inliers), fps=fps, track_ids=fit.track_ids, frame_indices=fit.frame_indices,
    ).save(out_path)
