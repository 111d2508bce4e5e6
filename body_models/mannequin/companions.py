"""What the mannequin's companion files hold: the Human3.6M and extra joint regressors, SPIN's mean
parameters.

The regressors stand in for SPIN's ``J_regressor_h36m.npy`` (17 rows, ``joints.H36M_REGRESSOR_17``)
and ``J_regressor_extra.npy`` (9 rows, ``joints.SMPL_EXTRA_9``); ``mean_params`` for its
``smpl_mean_params.npz`` (FORMATS §3.3).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from body_models.joints import H36M_REGRESSOR_17, SMPL_24, SMPL_EXTRA_9
from body_models.mannequin.layout import N_BETAS
from body_models.mannequin.rig import _nnls_cluster


def _cluster_row(verts: np.ndarray, target: np.ndarray, radius: float, sign: float = 0.0,
                 min_count: int = 250) -> np.ndarray:
    """A regressor row: a non-negative vertex blend around ``target`` (metres) that lands on it,
    from the vertices within ``radius`` or at least the ``min_count`` nearest; ``sign`` ±1 keeps
    to one side of the body."""
    dist = np.linalg.norm(verts - target, axis=1)
    if sign:
        dist[verts[:, 0] * sign <= 0] = np.inf
    reach = max(radius, float(np.partition(dist, min_count)[min_count]))
    cand = np.flatnonzero(dist <= reach)
    return _nnls_cluster(verts, target, cand, sigma=reach / 2)


def _surface_targets(model: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Named points (metres) the companion regressors aim at, from the model's joints."""
    joints = model["J"]
    verts = model["v_template"]
    j = {n: joints[i] for i, n in enumerate(SMPL_24.names)}
    top = verts[np.argmax(verts[:, 1])]
    t = {}
    for s, side in ((1.0, "left"), (-1.0, "right")):
        # H36M hips: a little wider and lower than SMPL's; LSP hips lower still, near the skin.
        t[f"h36m_{side}_hip"] = j[f"{side}_hip"] + [0.02 * s, -0.02, -0.005]
        t[f"lsp_{side}_hip"] = j[f"{side}_hip"] + [0.03 * s, -0.06, 0.0]
        t[f"h36m_{side}_knee"] = j[f"{side}_knee"] + [0.0, 0.01, 0.0]
        t[f"h36m_{side}_ankle"] = j[f"{side}_ankle"] + [0.0, -0.005, 0.0]
        t[f"h36m_{side}_shoulder"] = j[f"{side}_shoulder"] + [0.005 * s, 0.01, 0.0]
        t[f"h36m_{side}_elbow"] = j[f"{side}_elbow"]
        t[f"h36m_{side}_wrist"] = j[f"{side}_wrist"]
    t["h36m_pelvis"] = 0.5 * (t["h36m_left_hip"] + t["h36m_right_hip"])
    t["h36m_thorax"] = np.array([0.0, j["neck"][1] - 0.03, j["neck"][2]])
    t["h36m_spine"] = 0.5 * (t["h36m_pelvis"] + t["h36m_thorax"]) + [0.0, 0.0, -0.01]
    t["h36m_neck_nose"] = j["head"] + [0.0, -0.01, 0.015]
    t["h36m_head"] = np.array([0.0, top[1] - 0.07, top[2] + 0.01])
    t["head_h36m"] = t["h36m_head"] + [0.0, -0.015, 0.01]
    t["neck_lsp"] = j["neck"] + [0.0, 0.03, 0.005]
    t["head_top_lsp"] = top - [0.0, 0.006, 0.0]
    t["pelvis_mpii"] = 0.5 * (t["lsp_left_hip"] + t["lsp_right_hip"]) + [0.0, 0.03, 0.0]
    t["thorax_mpii"] = np.array([0.0, j["neck"][1] - 0.02, j["neck"][2] + 0.005])
    return t


def _h36m_regressor(model: dict[str, np.ndarray]) -> np.ndarray:
    """(17, V) regressor to the Human3.6M joints, rows in ``H36M_REGRESSOR_17`` order."""
    verts = model["v_template"]
    t = _surface_targets(model)
    rows = []
    for name in H36M_REGRESSOR_17.names:
        sign = {"left": 1.0, "right": -1.0}.get(name.split("_")[0], 0.0)
        rows.append(_cluster_row(verts, t["h36m_" + name], 0.06, sign))
    return np.stack(rows)


def _extra_regressor(model: dict[str, np.ndarray], h36m: np.ndarray) -> np.ndarray:
    """(9, V) regressor in ``SMPL_EXTRA_9`` order; spine and jaw rows equal the H36M rows."""
    verts = model["v_template"]
    t = _surface_targets(model)
    rows = []
    for name in SMPL_EXTRA_9.names:
        if name == "spine_h36m":
            rows.append(h36m[H36M_REGRESSOR_17.index("spine")])
        elif name == "jaw_h36m":
            rows.append(h36m[H36M_REGRESSOR_17.index("neck_nose")])
        elif name.endswith("_hip_lsp"):
            side = name.split("_")[0]
            rows.append(_cluster_row(verts, t[f"lsp_{side}_hip"], 0.07, 1.0 if side == "left" else -1.0))
        else:
            rows.append(_cluster_row(verts, t[name], 0.06))
    return np.stack(rows)


def _rotmat_to_rot6d(rotmats: np.ndarray) -> np.ndarray:
    """SPIN's 6D: the first two columns of each (…, 3, 3) matrix, flattened row-major
    (R00, R01, R10, R11, R20, R21)."""
    return rotmats[..., :, :2].reshape(*rotmats.shape[:-2], 6)


def mean_params() -> dict[str, np.ndarray]:
    """SPIN's ``smpl_mean_params.npz`` content for the mannequin.

    Returns:
        ``pose (144,)`` float32: 24 joints × 6D (SPIN's convention, FORMATS §3.4) with the root
        turned by π about x (HMR's upright-in-image start) and a relaxed body pose (arms
        lowered about 50°, elbows and knees slightly bent); ``shape (10,)`` float64 zeros;
        ``cam (3,)`` float32 (0.9, 0, 0).
    """
    rotvecs = np.zeros((len(SMPL_24), 3))
    names = SMPL_24.names
    rotvecs[0] = (np.pi, 0.0, 0.0)
    for s, side in ((1.0, "left"), (-1.0, "right")):
        rotvecs[names.index(f"{side}_collar")] = (0.0, 0.0, -0.1 * s)
        rotvecs[names.index(f"{side}_shoulder")] = (0.0, 0.0, -0.8 * s)
        rotvecs[names.index(f"{side}_elbow")] = (0.0, -0.3 * s, 0.0)
        rotvecs[names.index(f"{side}_hip")] = (-0.08, 0.0, 0.03 * s)
        rotvecs[names.index(f"{side}_knee")] = (0.15, 0.0, 0.0)
    rotvecs[names.index("spine1")] = (0.05, 0.0, 0.0)
    rotmats = Rotation.from_rotvec(rotvecs).as_matrix()
    return {
        "pose": _rotmat_to_rot6d(rotmats).reshape(-1).astype(np.float32),
        "shape": np.zeros(N_BETAS, dtype=np.float64),
        "cam": np.array([0.9, 0.0, 0.0], dtype=np.float32),
    }
