"""The mannequin's rig: linear-blend-skinning weights and the joint regressor.

Both are read off the surface: the weights from the distance fields of the primitives each
joint's bone owns, the regressor as a non-negative blend of a ring of vertices around each
designed joint that lands on it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from body_models.errors import HMRError
from body_models.joints import SMPL_24
from body_models.mannequin.design import _TORSO_JOINTS, _side, design_joints
from body_models.mannequin.mesh_ops import adjacency, unique_edges


def _part_fields(verts: np.ndarray, prims: list) -> np.ndarray:
    """(V, P) field value of each primitive at each vertex (metres, approximately)."""
    return np.stack([p.field(verts) for p in prims], axis=1)


def _softmax_rows(d: np.ndarray, tau: float) -> np.ndarray:
    """Row-wise weights ∝ exp(-(d - min d) / tau), rows summing to 1."""
    w = np.exp(-(d - d.min(axis=1, keepdims=True)) / tau)
    return w / w.sum(axis=1, keepdims=True)


def _smoothing_operator(faces: np.ndarray, n_verts: int) -> sp.csr_matrix:
    """(V, V) row-stochastic operator: half the value kept, half the neighbours' mean."""
    adj = adjacency(unique_edges(faces, n_verts), n_verts)
    mean = sp.diags(1.0 / np.asarray(adj.sum(axis=1)).ravel()) @ adj
    return (0.5 * sp.identity(n_verts) + 0.5 * mean).tocsr()


def _skinning_weights(verts: np.ndarray, faces: np.ndarray, prims: list) -> np.ndarray:
    """LBS weights from the parts' distance fields.

    Each vertex takes a soft assignment to the parts near it, the torso's share split between
    pelvis and spine joints by height; weights outside the main joint's parent and children are
    dropped, then smoothed over the surface and renormalised.

    Returns:
        (V, 24) float64, non-negative, rows summing to 1.
    """
    names = SMPL_24.names
    fields = _part_fields(verts, prims)
    owners = sorted({p.owner for p in prims})
    d = np.stack([fields[:, [i for i, p in enumerate(prims) if p.owner == o]].min(axis=1)
                  for o in owners], axis=1)
    soft = _softmax_rows(d, tau=0.012)
    w = np.zeros((len(verts), len(names)))
    joints = design_joints()
    for k, owner in enumerate(owners):
        if owner != "torso":
            w[:, names.index(owner)] += soft[:, k]
            continue
        # Split the torso at the spine joints' heights.
        y = verts[:, 1]
        cuts = [joints[names.index(n), 1] for n in _TORSO_JOINTS[1:]]
        above = [1.0 / (1.0 + np.exp(-(y - c) / 0.015)) for c in cuts]
        bands = [1.0 - above[0], above[0] - above[1], above[1] - above[2], above[2]]
        for name, band in zip(_TORSO_JOINTS, bands):
            w[:, names.index(name)] += soft[:, k] * band
    # Keep only the main joint, its parent and its children.
    parents = np.array(SMPL_24.parents)
    allowed = np.eye(len(names), dtype=bool)
    for j, p in enumerate(parents):
        if p >= 0:
            allowed[j, p] = allowed[p, j] = True
    w *= allowed[w.argmax(axis=1)]
    w /= w.sum(axis=1, keepdims=True)
    smooth = _smoothing_operator(faces, len(verts))
    for _ in range(6):
        w = smooth @ w
    w[w < 1e-3] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _bone_directions(joints: np.ndarray) -> np.ndarray:
    """(24, 3) unit direction of each joint's bone: towards its (main) child, or onwards for
    the hands, feet and head."""
    names = SMPL_24.names
    main_child = {"pelvis": "spine1", "spine3": "neck", "left_hand": None, "right_hand": None,
                  "left_foot": None, "right_foot": None, "head": None}
    out = np.zeros((len(names), 3))
    for j, name in enumerate(names):
        child = main_child.get(name, "")
        if child == "":
            kids = [c for c, p in enumerate(SMPL_24.parents) if p == j]
            child = names[kids[0]]
        if child is None:
            parent = SMPL_24.parents[j]
            d = joints[j] - joints[parent]
        else:
            d = joints[names.index(child)] - joints[j]
        out[j] = d / np.linalg.norm(d)
    return out


def _nnls_cluster(verts: np.ndarray, target: np.ndarray, cand: np.ndarray, sigma: float) -> np.ndarray:
    """Non-negative weights over vertices ``cand`` whose weighted mean is ``target``.

    Among such weights, it stays close to a Gaussian falloff around the target (width
    ``sigma`` metres), so the cluster is a smooth ring or patch.

    Returns:
        (V,) float64 row, non-negative, summing to 1, zero outside ``cand``.
    """
    if len(cand) < 4:
        raise HMRError(f"mannequin generator: only {len(cand)} vertices around a regressed joint")
    pts = verts[cand]
    prior = np.exp(-((pts - target) ** 2).sum(1) / (2 * sigma ** 2))
    prior /= prior.sum()
    mu, lam = 100.0, 0.05
    a = np.vstack([mu * np.vstack([pts.T, np.ones(len(cand))]), lam * np.eye(len(cand))])
    b = np.concatenate([mu * np.append(target, 1.0), lam * prior])
    w, _ = nnls(a, b, maxiter=50 * len(cand))
    row = np.zeros(len(verts))
    row[cand] = w / w.sum()
    return row


# Per joint: (half-thickness of the slab across the bone, radius) that selects the ring of
# vertices the joint is regressed from, metres.
_REGRESSOR_RING: dict[str, tuple[float, float]] = {
    "pelvis": (0.03, 0.20), "left_hip": (0.035, 0.13), "spine1": (0.025, 0.20),
    "left_knee": (0.02, 0.09), "spine2": (0.025, 0.20), "left_ankle": (0.02, 0.08),
    "spine3": (0.025, 0.20), "left_foot": (0.02, 0.08), "neck": (0.02, 0.09),
    "left_collar": (0.025, 0.10), "head": (0.02, 0.10), "left_shoulder": (0.025, 0.08),
    "left_elbow": (0.015, 0.06), "left_wrist": (0.015, 0.05), "left_hand": (0.015, 0.06),
}


def _joint_regressor(verts: np.ndarray) -> np.ndarray:
    """The joint regressor: each joint a non-negative blend of a ring of vertices around the
    designed joint, solved so the blend lands on it.

    Returns:
        (24, V) float64, rows non-negative and summing to 1.
    """
    targets = design_joints()
    dirs = _bone_directions(targets)
    reg = np.zeros((len(SMPL_24), len(verts)))
    for j, name in enumerate(SMPL_24.names):
        slab, radius = _REGRESSOR_RING[_side(name)[0]]
        rel = verts - targets[j]
        across = np.abs(rel @ dirs[j])
        cand = np.flatnonzero((across < slab) & (np.linalg.norm(rel, axis=1) < radius))
        reg[j] = _nnls_cluster(verts, targets[j], cand, sigma=radius / 2)
    return reg
