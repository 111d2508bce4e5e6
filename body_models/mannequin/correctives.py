"""The mannequin's blend shapes: the ten shape components and the pose correctives.

``_shape_directions`` gives SMPL's ``shapedirs`` (their meaning is listed in
``body_models.mannequin``'s docstring), ``_pose_directions`` its ``posedirs``: small bulges near
each joint, linear in SMPL's pose feature ``R - I``.
"""

from __future__ import annotations

import numpy as np

from body_models.joints import SMPL_24
from body_models.mannequin.design import _TORSO_JOINTS, _side
from body_models.mannequin.layout import N_BETAS, N_POSE_BASIS
from body_models.mannequin.rig import _bone_directions, _part_fields, _softmax_rows


def _radial(verts: np.ndarray, prims: list, owner_gain: dict[str, float]) -> np.ndarray:
    """Displacement (V, 3) metres that inflates parts away from their axes.

    Each vertex blends, over nearby primitives, its offset from that primitive's axis times the
    owner's gain (a relative radius change), so neighbouring parts inflate smoothly together.
    """
    fields = _part_fields(verts, prims)
    soft = _softmax_rows(fields, tau=0.015)
    out = np.zeros_like(verts)
    for i, prim in enumerate(prims):
        gain = owner_gain.get(prim.owner, 0.0)
        if gain:
            axis, _ = prim.axis_point(verts)
            out += (soft[:, i] * gain)[:, None] * (verts - axis)
    return out


def _bone_stretch(verts: np.ndarray, weights: np.ndarray, joints: np.ndarray,
                  stretch: dict[str, float]) -> np.ndarray:
    """Displacement (V, 3) metres that lengthens bones.

    ``stretch[name]`` moves joint ``name`` (and everything below it) away from its parent by
    that many metres along the bone. A vertex follows its joints' displacements, interpolated
    along each bone by where the vertex sits on it.
    """
    names = SMPL_24.names
    parents = SMPL_24.parents
    moved = np.zeros_like(joints)
    for j in range(len(names)):  # parents come before children in SMPL_24
        if parents[j] >= 0:
            bone = joints[j] - joints[parents[j]]
            moved[j] = moved[parents[j]] + stretch.get(names[j], 0.0) * bone / np.linalg.norm(bone)
    dirs = _bone_directions(joints)
    out = np.zeros_like(verts)
    for j in range(len(names)):
        kids = [c for c in range(len(names)) if parents[c] == j]
        end = moved[j]
        length = 1.0
        if kids:
            child = names.index("spine1" if j == 0 else "neck" if names[j] == "spine3" else names[kids[0]])
            end = moved[child]
            length = np.linalg.norm(joints[child] - joints[j])
        t = np.clip((verts - joints[j]) @ dirs[j] / length, 0.0, 1.0) if kids else np.zeros(len(verts))
        out += weights[:, j:j + 1] * (moved[j] + t[:, None] * (end - moved[j]))
    return out


def _shape_directions(verts: np.ndarray, normals: np.ndarray, weights: np.ndarray,
                      joints: np.ndarray, prims: list) -> np.ndarray:
    """The ten shape components (``body_models.mannequin``'s docstring gives their meaning).

    Returns:
        (V, 3, 10) float64, metres per unit of β.
    """
    names = SMPL_24.names
    w = {n: weights[:, names.index(n)] for n in names}

    def both(side_name: str) -> float:
        return w["left_" + side_name] + w["right_" + side_name]

    pelvis = joints[names.index("pelvis")]
    dirs = np.zeros((len(verts), 3, N_BETAS))
    # 0: size / height.
    dirs[:, :, 0] = 0.021 * (verts - pelvis)
    # 1: weight: torso, hips and neck girth.
    dirs[:, :, 1] = _radial(verts, prims, {"torso": 0.085, "pelvis": 0.085, "left_hip": 0.05,
                                           "right_hip": 0.05, "spine3": 0.06, "neck": 0.04,
                                           "left_collar": 0.05, "right_collar": 0.05})
    # 2: shoulder width.
    chest = w["spine3"] + w["spine2"] + both("collar")
    dirs[:, :, 2] = _bone_stretch(verts, weights, joints, {
        "left_shoulder": 0.012, "right_shoulder": 0.012, "left_elbow": -0.006,
        "right_elbow": -0.006, "left_wrist": -0.006, "right_wrist": -0.006})
    dirs[:, 0, 2] += 0.07 * chest * verts[:, 0]
    # 3: longer legs, shorter trunk.
    dirs[:, :, 3] = _bone_stretch(verts, weights, joints, {
        "left_knee": 0.0125, "right_knee": 0.0125, "left_ankle": 0.0125, "right_ankle": 0.0125,
        "spine2": -0.006, "spine3": -0.003, "neck": -0.006})
    # 4: belly.
    belly = np.exp(-((verts[:, 1] + 0.07) ** 2) / (2 * 0.07 ** 2)) * (w["spine1"] + w["pelvis"] + w["spine2"])
    front = np.clip(normals[:, 2], 0.0, 1.0) ** 2
    dirs[:, :, 4] = 0.015 * (belly * front)[:, None] * np.stack(
        [0.3 * normals[:, 0], np.zeros(len(verts)), np.ones(len(verts))], axis=1)
    # 5: hip width.
    legs = sum(w["left_" + n] - w["right_" + n] for n in ("hip", "knee", "ankle", "foot"))
    hips = (w["pelvis"] + w["spine1"]) * np.exp(-((verts[:, 1] + 0.27) ** 2) / (2 * 0.08 ** 2))
    dirs[:, 0, 5] = 0.008 * legs + 0.06 * hips * verts[:, 0]
    # 6: arm length.
    dirs[:, :, 6] = _bone_stretch(verts, weights, joints, {
        "left_elbow": 0.012, "right_elbow": 0.012, "left_wrist": 0.012, "right_wrist": 0.012})
    # 7: head size.
    head_centre = np.array([0.0, 0.42, 0.02])
    dirs[:, :, 7] = 0.045 * w["head"][:, None] * (verts - head_centre)
    # 8: chest depth and upper-arm bulk.
    chest_z = (w["spine3"] + 0.5 * w["spine2"]) * (verts[:, 2] - 0.0)
    dirs[:, 2, 8] = 0.08 * chest_z
    dirs[:, :, 8] += _radial(verts, prims, {"left_shoulder": 0.05, "right_shoulder": 0.05})
    # 9: limb thickness.
    dirs[:, :, 9] = _radial(verts, prims, {
        "left_shoulder": 0.08, "right_shoulder": 0.08, "left_elbow": 0.08, "right_elbow": 0.08,
        "left_hip": 0.04, "right_hip": 0.04, "left_knee": 0.08, "right_knee": 0.08})
    return dirs


def _pose_directions(verts: np.ndarray, normals: np.ndarray, weights: np.ndarray,
                     joints: np.ndarray) -> np.ndarray:
    """Pose correctives: per non-root joint, bulges near the joint linear in ``R - I``.

    For joint j with bone direction b and a vertex at radial direction r̂ from the bone axis,
    entry (i, k) of ``R - I`` moves the vertex along its normal by
    ``c · g(v) · (r̂_i b_k - δ_ik / 2)``: flesh on the inside of a bend swells, the outside
    tightens, and any rotation (trace below 3) swells the joint a little. ``g`` is a Gaussian
    around the joint on the vertices its bone and parent bone drive.

    Returns:
        (V, 3, 207) float64, metres per unit of the pose feature, ordered as smplx expects
        (joint 1..23, then row-major 3×3).
    """
    names = SMPL_24.names
    parents = SMPL_24.parents
    dirs = _bone_directions(joints)
    out = np.zeros((len(verts), 3, N_POSE_BASIS))
    for j in range(1, len(names)):
        name = _side(names[j])[0]
        big = name in ("left_hip", "left_knee", "left_shoulder", "left_elbow")
        sigma = 0.07 if name in _TORSO_JOINTS or name == "left_hip" else 0.05
        amp = 0.012 if big else 0.006
        rel = verts - joints[j]
        g = np.exp(-(rel ** 2).sum(1) / (2 * sigma ** 2)) * (weights[:, j] + weights[:, parents[j]])
        g[g < 1e-3] = 0.0
        b = dirs[j]
        radial = rel - (rel @ b)[:, None] * b
        radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-9)
        coef = radial[:, :, None] * b[None, None, :] - 0.5 * np.eye(3)[None]   # (V, 3, 3)
        # posedirs[v, c, 9 (j-1) + 3 i + k] = amp · g · n_c · coef_ik
        block = amp * (g[:, None, None] * normals[:, :, None]) * coef.reshape(len(verts), 1, 9)
        out[:, :, 9 * (j - 1):9 * j] = block
    return out
