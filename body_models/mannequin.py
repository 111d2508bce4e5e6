"""The synthetic "mannequin": a stand-in for the licensed SMPL model, in SMPL's exact layout.

Real SMPL files cannot be shipped, so tests and the demo use this body instead. It has SMPL's
array names, shapes and conventions (6,890 vertices, 13,776 faces, 24 joints, 10 shape and 207
pose-corrective components; FORMATS §4), runs through ``smplx.SMPL(data_struct=...)`` unchanged,
and looks like a plain human mannequin when rendered:

- SMPL frame: metres, y up, the subject faces +z, the subject's left side is at +x. Rest pose
  is SMPL's T-pose (arms out, palms down, legs slightly apart); about 1.69 m tall, pelvis joint
  near (0, -0.22, 0), soles near y = -1.165, top of the head near y = 0.53.
- One closed, outward-oriented, genus-0 triangle mesh (a smooth union of tapered elliptic
  capsules around the skeleton, extracted by marching tetrahedra and remeshed to exactly 6,890
  vertices). Head with nose, brow, chin and ears; mitten hands with a thumb; feet pointing +z.
- Vertex order puts SMPL's landmark vertices (``joints.SMPL_LANDMARK_VERTICES``: nose, eyes,
  ears, toes, heels, finger tips) at the matching spots, so smplx's 21 extra joints land where
  they should.
- ``J_regressor`` rows are non-negative, sum to 1 and use a ring of vertices around each joint;
  the joints ``J`` are defined as ``J_regressor @ v_template``.
- LBS ``weights`` are smooth blends of the parts' distance fields, limited to neighbouring bones.
- ``shapedirs`` (10 components, per unit of β, a few centimetres each like SMPL's; +1 gives):

  0. taller: uniform scale by 2.1 % about the pelvis joint (about +3.5 cm height);
  1. heavier: torso, hips and neck girth +8.5 % (waist radius about +1.2 cm);
  2. broader shoulders, same reach: collar bones +1.2 cm each, chest 7 % wider, each arm bone
     0.6 cm shorter;
  3. longer legs, shorter trunk: thighs and shins +1.25 cm each, spine 1.5 cm shorter;
  4. belly: the abdomen bulges forward by up to 1.5 cm;
  5. wider hips: each leg 0.8 cm further out, pelvis 6 % wider;
  6. longer arms: upper arm and forearm +1.2 cm each;
  7. bigger head: head scaled by 4.5 %;
  8. deeper chest: chest 8 % deeper front to back, upper arms 5 % thicker;
  9. thicker limbs: arms and legs +8 % radius (thighs +4 %).

- ``posedirs``: for each of the 23 non-root joints, small smooth bulges near that joint, linear
  in the nine entries of ``R - I`` (SMPL's pose feature), so they vanish at the rest pose.

Companion files in the official layouts: ``J_regressor_h36m`` (17 rows in SPIN's order,
``joints.H36M_REGRESSOR_17``), ``J_regressor_extra`` (9 rows, ``joints.SMPL_EXTRA_9``) and
``smpl_mean_params.npz`` (SPIN's layout, FORMATS §3.3). Everything is generated on first use,
deterministically (same bytes each run), and cached under ``$HMR_CACHE_DIR`` (default
``~/.cache/hmr``) in file names that carry ``GENERATOR_VERSION``.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls
from scipy.spatial.transform import Rotation

from body_models import _mannequin_mesh as mm
from body_models.atomic import write_bytes
from body_models.errors import HMRError
from body_models.joints import H36M_REGRESSOR_17, SMPL_24, SMPL_EXTRA_9, SMPL_LANDMARK_VERTICES
from body_models.mannequin_prior import PRIOR_NUM_POSES, PRIOR_VERSION  # the prior's build lives there

_log = logging.getLogger(__name__)
GENERATOR_VERSION = "1"
MODEL_NAME = "mannequin"
N_VERTS = 6890
N_FACES = 13776
N_BETAS = 10
N_POSE_BASIS = 9 * (len(SMPL_24) - 1)

CACHE_ENV = "HMR_CACHE_DIR"
MODEL_KEYS = ("v_template", "f", "J_regressor", "weights", "kintree_table", "shapedirs",
              "posedirs", "J", "model_name")

_GRID_STEP = 0.013  # metres: marching-tetrahedra grid spacing before remeshing
X, Y, Z = np.eye(3)

# Designed joint positions for the subject's left side and the midline, metres. Right-side
# joints mirror the left ones in x. The model's joints are regressed from the surface and land
# within a few millimetres of these.
_JOINTS_LEFT: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, -0.225, 0.012),
    "left_hip": (0.078, -0.315, 0.010),
    "spine1": (0.0, -0.105, -0.012),
    "left_knee": (0.100, -0.680, 0.006),
    "spine2": (0.0, 0.030, -0.008),
    "left_ankle": (0.088, -1.068, -0.030),
    "spine3": (0.0, 0.085, 0.012),
    "left_foot": (0.114, -1.128, 0.098),
    "neck": (0.0, 0.275, -0.012),
    "left_collar": (0.078, 0.205, -0.008),
    "head": (0.0, 0.355, 0.035),
    "left_shoulder": (0.168, 0.218, -0.020),
    "left_elbow": (0.430, 0.212, -0.030),
    "left_wrist": (0.682, 0.216, -0.030),
    "left_hand": (0.768, 0.208, -0.036),
}

# Where the landmark vertices sit, for the subject's left side (mirrored for the right): a ray
# (a point in metres and a direction); the landmark is the vertex that lies furthest along the
# ray while close to it (the nose: the most forward point of the face, and so on).
_LANDMARK_RAYS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "nose": ((0.0, 0.405, 0.0), (0, 0, 1)),
    "left_eye": ((0.033, 0.432, 0.0), (0, 0, 1)),
    "left_ear": ((0.0, 0.418, 0.0), (1, 0, 0)),
    "left_big_toe": ((0.098, -1.143, 0.05), (0, 0, 1)),
    "left_small_toe": ((0.146, -1.150, 0.05), (0, 0, 1)),
    "left_heel": ((0.088, -1.140, 0.0), (0, 0, -1)),
    "left_thumb": ((0.698, 0.205, -0.006), (0.05, -0.01, 0.046)),
    "left_index": ((0.75, 0.203, -0.014), (1, 0, 0)),
    "left_middle": ((0.75, 0.203, -0.033), (1, 0, 0)),
    "left_ring": ((0.75, 0.203, -0.052), (1, 0, 0)),
    "left_pinky": ((0.75, 0.203, -0.068), (1, 0, 0)),
}


def _side(name: str) -> tuple[str, float]:
    """(left-side name, x sign) of a joint or landmark name."""
    if name.startswith("right_"):
        return "left_" + name[6:], -1.0
    return name, 1.0


def design_joints() -> np.ndarray:
    """The designed joint positions.

    Returns:
        (24, 3) metres, ``joints.SMPL_24`` order. The model's ``J`` is within millimetres.
    """
    out = np.zeros((len(SMPL_24), 3))
    for i, name in enumerate(SMPL_24.names):
        left, sign = _side(name)
        out[i] = np.array(_JOINTS_LEFT[left]) * [sign, 1.0, 1.0]
    return out


# ---------------------------------------------------------------------------------------------
# The implicit body
# ---------------------------------------------------------------------------------------------


def _primitives() -> list:
    """The implicit body: union items in order (mirror pairs that touch are tuples); every
    primitive is owned by a ``SMPL_24`` joint, or by ``"torso"`` (split along the spine)."""
    J = {n: np.asarray(p, float) for n, p in _JOINTS_LEFT.items()}
    items: list = []
    # Torso: an elliptic loft along y; e1 = x and e2 = y × x = -z, so z offsets are negated.
    levels = np.array([
        # y, half width, half depth, centre z
        (-0.372, 0.110, 0.074, -0.005),
        (-0.310, 0.156, 0.097, -0.012),
        (-0.235, 0.162, 0.097, -0.006),
        (-0.150, 0.148, 0.090, 0.002),
        (-0.060, 0.134, 0.086, 0.006),
        (0.020, 0.144, 0.090, 0.004),
        (0.110, 0.160, 0.097, 0.000),
        (0.180, 0.158, 0.092, -0.008),
        (0.250, 0.110, 0.070, -0.016),
    ])
    y0, y1 = levels[0, 0], levels[-1, 0]
    items.append(mm.Limb((0, y0, 0), (0, y1, 0), (levels[:, 0] - y0) / (y1 - y0), levels[:, 1],
                         levels[:, 2], X, cap_a=0.05, cap_b=0.045, o2=-levels[:, 3], blend=0.03,
                         owner="torso"))
    # Buttocks and chest: mirror pairs that meet at the midline.
    items.append(tuple(mm.Limb(c, c, [0, 1], 0.085, 0.072, X, cap_a=0.09, cap_b=0.09, blend=0.03,
                               owner="pelvis")
                       for c in ((0.072, -0.300, -0.040), (-0.072, -0.300, -0.040))))
    items.append(tuple(mm.Limb(c, c, [0, 1], 0.075, 0.035, X, cap_a=0.05, cap_b=0.05, blend=0.035,
                               owner="spine3")
                       for c in ((0.07, 0.135, 0.058), (-0.07, 0.135, 0.058))))
    for s in (1.0, -1.0):
        side = "left" if s > 0 else "right"
        m = np.array([s, 1.0, 1.0])
        hip, knee, ankle, foot = (J["left_hip"] * m, J["left_knee"] * m, J["left_ankle"] * m,
                                  J["left_foot"] * m)
        # Thigh, shin (calf bulging behind), foot, toes.
        items.append(mm.Limb(hip + 0.03 * Y, knee, [0, 0.45, 1], [0.088, 0.072, 0.054],
                             [0.090, 0.075, 0.056], X, blend=0.03, owner=f"{side}_hip"))
        items.append(mm.Limb(knee, ankle, [0, 0.3, 1], [0.052, 0.054, 0.033],
                             [0.054, 0.058, 0.036], X, o2=[0.0, -0.012, 0.0], blend=0.025,
                             owner=f"{side}_knee"))
        items.append(mm.Limb(np.array([0.088, -1.118, -0.045]) * m, foot - 0.006 * Y, [0, 1],
                             [0.036, 0.047], [0.044, 0.031], X, cap_a=0.042, cap_b=0.03,
                             blend=0.025, owner=f"{side}_ankle"))
        items.append(mm.Limb(foot - 0.012 * Y, np.array([0.118, -1.143, 0.165]) * m, [0, 1],
                             [0.046, 0.038], [0.027, 0.021], X, cap_b=0.025, blend=0.015,
                             owner=f"{side}_foot"))
        # Arm: trapezius, upper arm with deltoid, forearm, palm, mitten, thumb (palm down).
        sh, el, wr, hd = (J["left_shoulder"] * m, J["left_elbow"] * m, J["left_wrist"] * m,
                          J["left_hand"] * m)
        items.append(mm.Limb(np.array([0.02, 0.238, -0.025]) * m, sh + np.array([-0.01 * s, 0.005, 0]),
                             [0, 1], [0.046, 0.048], [0.058, 0.05], Y, blend=0.03,
                             owner=f"{side}_collar"))
        items.append(mm.Limb(sh, el, [0, 0.22, 1], [0.052, 0.047, 0.037], [0.055, 0.047, 0.040],
                             Y, cap_a=0.05, blend=0.025, owner=f"{side}_shoulder"))
        items.append(mm.Limb(el, wr, [0, 0.3, 1], [0.035, 0.037, 0.023], [0.040, 0.044, 0.030],
                             Y, blend=0.02, owner=f"{side}_elbow"))
        items.append(mm.Limb(wr + np.array([0.005 * s, -0.002, 0]), hd, [0, 1], [0.016, 0.019],
                             [0.032, 0.043], Y, cap_a=0.016, blend=0.015, owner=f"{side}_wrist"))
        items.append(mm.Limb(hd - 0.001 * Y, np.array([0.848, 0.203, -0.040]) * m, [0, 1],
                             [0.015, 0.011], [0.043, 0.036], Y, cap_b=0.022, blend=0.012,
                             owner=f"{side}_hand"))
        items.append(mm.Limb(np.array([0.698, 0.205, -0.006]) * m, np.array([0.748, 0.195, 0.040]) * m,
                             [0, 1], [0.015, 0.012], [0.016, 0.0125], Y, cap_b=0.0125,
                             blend=0.012, owner=f"{side}_wrist"))
        # Ear.
        items.append(mm.Limb(np.array([0.076, 0.418, 0.0]) * m, np.array([0.076, 0.418, 0.0]) * m,
                             [0, 1], 0.012, 0.019, X, cap_a=0.03, cap_b=0.03, blend=0.008,
                             owner="head"))
    # Neck, skull, face, chin, brow, nose.
    items.append(mm.Limb((0, 0.205, -0.022), (0, 0.37, -0.012), [0, 1], [0.062, 0.054],
                         [0.056, 0.05], X, blend=0.035, owner="neck"))
    for centre, radii, blend in (((0, 0.432, 0.004), (0.077, 0.096, 0.098), 0.025),
                                 ((0, 0.378, 0.038), (0.062, 0.058, 0.064), 0.03),
                                 ((0, 0.338, 0.072), (0.030, 0.022, 0.026), 0.02),
                                 ((0, 0.458, 0.080), (0.062, 0.020, 0.026), 0.02)):
        items.append(mm.Limb(centre, centre, [0, 1], radii[0], radii[2], X, cap_a=radii[1],
                             cap_b=radii[1], blend=blend, owner="head"))
    items.append(mm.Limb((0, 0.446, 0.100), (0, 0.404, 0.128), [0, 1], [0.009, 0.016],
                         [0.010, 0.015], X, blend=0.012, owner="head"))
    return items


def _size(p: np.ndarray) -> np.ndarray:
    """Relative edge length wanted at points (N, 3) metres: finer on the face, hands and feet."""
    head = np.exp(-((p - [0, 0.41, 0.05]) ** 2).sum(1) / (2 * 0.08 ** 2))
    hands = np.exp(-((np.abs(p[:, 0]) - 0.77) ** 2 + (p[:, 1] - 0.21) ** 2) / (2 * 0.07 ** 2))
    feet = np.exp(-((p[:, 1] + 1.13) ** 2) / (2 * 0.04 ** 2))
    return 1.0 - 0.35 * head - 0.25 * hands - 0.15 * feet


def _surface(items) -> tuple[np.ndarray, np.ndarray]:
    """The body surface with exactly ``N_VERTS`` vertices.

    Returns:
        vertices (6890, 3) metres, faces (13776, 3) int64, outward normals, genus 0.
    """
    prims = mm.flatten(items)
    lo = np.min([p.lo for p in prims], axis=0)
    hi = np.max([p.hi for p in prims], axis=0)
    shape = tuple(int(np.ceil((hi[i] - lo[i]) / _GRID_STEP)) + 1 for i in range(3))
    grid = mm.grid_field(items, lo, _GRID_STEP, shape)
    verts, faces = mm.marching_tetrahedra(grid, lo, _GRID_STEP)
    euler = len(verts) - len(mm.unique_edges(faces, len(verts))) + len(faces)
    if euler != 2:
        raise HMRError(f"mannequin generator: the extracted surface has Euler characteristic "
                       f"{euler}, not 2 (one sphere-like piece); the body design needs fixing")
    verts, faces = mm.remesh_to_count(verts, faces, N_VERTS, lambda q: mm.union_field(items, q), _size)
    if len(faces) != N_FACES:
        raise HMRError(f"mannequin generator: {len(faces)} faces instead of {N_FACES}")
    return verts, faces


# ---------------------------------------------------------------------------------------------
# Vertex order and landmarks
# ---------------------------------------------------------------------------------------------


def _landmark_vertex(verts: np.ndarray, name: str, taken: np.ndarray) -> int:
    """Index of the vertex at landmark ``name`` (a ``SMPL_LANDMARK_VERTICES`` key): the one
    furthest along the landmark's ray, less four times its distance from the ray, among vertices
    within 16 cm of the ray's start, on the landmark's side of the body, not ``taken`` (V,) yet."""
    left, sign = _side(name)
    point, direction = _LANDMARK_RAYS[left]
    mirror = np.array([sign, 1.0, 1.0])
    d = np.asarray(direction, float) * mirror
    d /= np.linalg.norm(d)
    rel = verts - np.asarray(point) * mirror
    along = rel @ d
    off = np.linalg.norm(rel - along[:, None] * d, axis=1)
    score = along - 4.0 * off
    lateral = name.startswith(("left_", "right_"))
    score[taken | (lateral & (verts[:, 0] * sign <= 0.01)) | (np.linalg.norm(rel, axis=1) > 0.16)] = -np.inf
    return int(np.argmax(score))


def _vertex_order(verts: np.ndarray) -> np.ndarray:
    """A permutation ``order`` (V,) such that ``verts[order]`` has every SMPL landmark at its
    SMPL index; the other vertices follow, the subject's left side first, each top to bottom."""
    order = np.full(len(verts), -1, dtype=np.int64)
    taken = np.zeros(len(verts), dtype=bool)
    for name, index in SMPL_LANDMARK_VERTICES.items():
        v = _landmark_vertex(verts, name, taken)
        order[index] = v
        taken[v] = True
    rest = np.flatnonzero(~taken)
    rest = rest[np.lexsort((rest, -verts[rest, 1], verts[rest, 0] < 0))]
    order[order < 0] = rest
    return order


# ---------------------------------------------------------------------------------------------
# Skinning weights and joint regressor
# ---------------------------------------------------------------------------------------------

_TORSO_JOINTS = ("pelvis", "spine1", "spine2", "spine3")


def _part_fields(verts: np.ndarray, prims: list) -> np.ndarray:
    """(V, P) field value of each primitive at each vertex (metres, approximately)."""
    return np.stack([p.field(verts) for p in prims], axis=1)


def _softmax_rows(d: np.ndarray, tau: float) -> np.ndarray:
    """Row-wise weights ∝ exp(-(d - min d) / tau), rows summing to 1."""
    w = np.exp(-(d - d.min(axis=1, keepdims=True)) / tau)
    return w / w.sum(axis=1, keepdims=True)


def _smoothing_operator(faces: np.ndarray, n_verts: int) -> sp.csr_matrix:
    """(V, V) row-stochastic operator: half the value kept, half the neighbours' mean."""
    adj = mm.adjacency(mm.unique_edges(faces, n_verts), n_verts)
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


# ---------------------------------------------------------------------------------------------
# Shape and pose blend shapes
# ---------------------------------------------------------------------------------------------


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
    """The ten shape components (see the module docstring for their meaning).

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


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


def build_mannequin() -> dict[str, np.ndarray]:
    """Generate the mannequin body model (a few seconds, deterministic).

    Returns:
        SMPL's arrays: ``v_template (6890, 3)`` float64 metres, ``f (13776, 3)`` int64,
        ``J_regressor (24, 6890)`` float64 dense, ``weights (6890, 24)`` float64,
        ``kintree_table (2, 24)`` int64 (root parent -1), ``shapedirs (6890, 3, 10)`` and
        ``posedirs (6890, 3, 207)`` float64 metres, ``J (24, 3)`` float64 metres
        (= ``J_regressor @ v_template``), and ``model_name`` = ``"mannequin"`` (str array).
    """
    items = _primitives()
    prims = mm.flatten(items)
    verts, faces = _surface(items)
    order = _vertex_order(verts)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    verts = verts[order]
    faces = inverse[faces]
    normals = mm.vertex_normals(verts, faces)
    weights = _skinning_weights(verts, faces, prims)
    regressor = _joint_regressor(verts)
    joints = regressor @ verts
    kintree = np.stack([np.array(SMPL_24.parents), np.arange(len(SMPL_24))]).astype(np.int64)
    return {
        "v_template": verts.astype(np.float64),
        "f": faces.astype(np.int64),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "shapedirs": _shape_directions(verts, normals, weights, joints, prims),
        "posedirs": _pose_directions(verts, normals, weights, joints),
        "J": joints,
        "model_name": np.array(MODEL_NAME),
    }


# ---------------------------------------------------------------------------------------------
# Companion files
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Files and cache
# ---------------------------------------------------------------------------------------------


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` (deflate-compressed) with fixed timestamps, so equal arrays give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            value = np.asarray(value)
            if value.dtype == object:
                raise TypeError(f"array {name!r} has dtype object; store strings as str arrays")
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder the mannequin files live in: ``cache_dir`` if given, else ``$HMR_CACHE_DIR``,
    else ``~/.cache/hmr``; with a ``mannequin`` subfolder."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hmr"
    return Path(cache_dir).expanduser() / "mannequin"


def _file(kind: str, cache: str | os.PathLike | None) -> Path:
    names = {
        "model": f"mannequin_v{GENERATOR_VERSION}.npz",
        "h36m": f"J_regressor_h36m_mannequin_v{GENERATOR_VERSION}.npy",
        "extra": f"J_regressor_extra_mannequin_v{GENERATOR_VERSION}.npy",
        "mean": f"smpl_mean_params_mannequin_v{GENERATOR_VERSION}.npz",
        "prior": f"gmm_08_mannequin_prior_v{PRIOR_VERSION}.pkl",
    }
    return cache_dir(cache) / names[kind]


def _check_model(arrays: dict[str, np.ndarray]) -> None:
    """Raise ``ValueError`` unless ``arrays`` has the mannequin's keys and shapes."""
    shapes = {"v_template": (N_VERTS, 3), "f": (N_FACES, 3), "J_regressor": (len(SMPL_24), N_VERTS),
              "weights": (N_VERTS, len(SMPL_24)), "kintree_table": (2, len(SMPL_24)),
              "shapedirs": (N_VERTS, 3, N_BETAS), "posedirs": (N_VERTS, 3, N_POSE_BASIS),
              "J": (len(SMPL_24), 3), "model_name": ()}
    for key, shape in shapes.items():
        if key not in arrays:
            raise ValueError(f"missing array {key!r}")
        if arrays[key].shape != shape:
            raise ValueError(f"array {key!r} has shape {arrays[key].shape}, expected {shape}")
    if str(arrays["model_name"]) != MODEL_NAME:
        raise ValueError(f"model_name is {str(arrays['model_name'])!r}, not {MODEL_NAME!r}")


def _read_valid(path: Path, check) -> dict[str, np.ndarray] | np.ndarray | None:
    """The cached file's content if it exists and passes ``check``; ``None`` if absent. A file
    that cannot be read or fails the check is reported with a warning and treated as absent."""
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            content = dict(loaded) if isinstance(loaded, np.lib.npyio.NpzFile) else loaded
        check(content)
        return content
    except Exception as err:  # noqa: BLE001 - any unreadable cache file is regenerated
        warnings.warn(f"regenerating the damaged mannequin file {path} ({type(err).__name__}: {err})",
                      stacklevel=3)
        return None


def load_mannequin(cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The mannequin's arrays (see ``build_mannequin``), generated and cached on first use."""
    path = model_path(cache_dir)
    with np.load(path, allow_pickle=False) as z:
        return dict(z)


def model_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin model file (``.npz`` in SMPL's layout), generated on first call.

    Load it with ``body_models.load_model_file`` or
    ``smplx.SMPL("", data_struct=smplx.utils.Struct(**dict(np.load(path))))``.

    Args:
        cache_dir: folder for the generated files; default ``$HMR_CACHE_DIR`` or ``~/.cache/hmr``.

    Returns:
        the path, ``<cache>/mannequin/mannequin_v<GENERATOR_VERSION>.npz``. A missing or damaged
        file is (re)generated and written atomically.
    """
    path = _file("model", cache_dir)
    if _read_valid(path, _check_model) is None:
        _log.info("building the mannequin body model (first use, about 10 s) into %s", path)
        write_bytes(path, _npz_bytes(build_mannequin()))
    return path


def _companion(kind: str, cache_dir, make, check) -> Path:
    path = _file(kind, cache_dir)
    if _read_valid(path, check) is None:
        model = load_mannequin(cache_dir)
        write_bytes(path, make(model))
    return path


def _shape_check(shape):
    def check(array):
        if not isinstance(array, np.ndarray) or array.shape != shape:
            raise ValueError(f"expected an array of shape {shape}")
        if not np.allclose(array.sum(axis=1), 1.0):
            raise ValueError("rows do not sum to 1")
    return check


def j_regressor_h36m_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's ``J_regressor_h36m`` stand-in: a ``.npy`` (17, 6890) float64,
    rows in SPIN's order (``joints.H36M_REGRESSOR_17``, left leg first). Generated on first call."""
    return _companion("h36m", cache_dir, lambda m: _npy_bytes(_h36m_regressor(m)),
                      _shape_check((len(H36M_REGRESSOR_17), N_VERTS)))


def j_regressor_extra_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's ``J_regressor_extra`` stand-in: a ``.npy`` (9, 6890) float64 in
    ``joints.SMPL_EXTRA_9`` order; the spine and jaw rows equal the H36M regressor's rows."""
    def make(model):
        return _npy_bytes(_extra_regressor(model, np.load(j_regressor_h36m_path(cache_dir))))
    return _companion("extra", cache_dir, make, _shape_check((len(SMPL_EXTRA_9), N_VERTS)))


def _check_mean(arrays) -> None:
    expected = {"pose": ((144,), np.float32), "shape": ((N_BETAS,), np.float64),
                "cam": ((3,), np.float32)}
    for key, (shape, dtype) in expected.items():
        if key not in arrays or arrays[key].shape != shape or arrays[key].dtype != dtype:
            raise ValueError(f"array {key!r} missing or not {shape} {np.dtype(dtype)}")


def mean_params_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's ``smpl_mean_params.npz`` stand-in (SPIN's layout, see
    ``mean_params``). Written on first call."""
    path = _file("mean", cache_dir)
    if _read_valid(path, _check_mean) is None:
        write_bytes(path, _npz_bytes(mean_params()))
    return path


def gmm_prior_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's pose prior in SMPLify's ``gmm_08.pkl`` layout, written on first call.

    An 8-component full-covariance GMM over the 69 body-pose values, fitted
    (``priors.fit_gmm``) to ``PRIOR_NUM_POSES`` procedural poses (``motion.sample_poses``), the
    way real users fit one to their mocap. The fit ships precomputed
    (``body_models.mannequin_prior``; ``hmr mannequin --build-prior`` rebuilds it), so first use
    only writes it. Read it with ``priors.load_gmm``.
    """
    from body_models.mannequin_prior import build_prior, load_shipped_prior
    from body_models.priors import load_gmm, save_gmm

    path = _file("prior", cache_dir)
    if path.exists():
        try:
            load_gmm(path)
            return path
        except HMRError as err:
            warnings.warn(f"regenerating the damaged mannequin prior {path} ({err})", stacklevel=2)
    gmm = load_shipped_prior()  # precomputed (body_models.mannequin_prior); fitted only without it
    if gmm is None:
        _log.info("fitting the mannequin's pose prior (first use, about a minute) into %s", path)
        gmm = build_prior()
    save_gmm(path, gmm)
    return path


def export_files(out_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """Copy the mannequin's files (generating them if needed) into ``out_dir``, atomically.

    Args:
        out_dir: destination folder (created if missing).
        cache_dir: as for ``model_path``.

    Returns:
        the written paths: the model ``.npz``, ``J_regressor_h36m`` and ``J_regressor_extra``
        ``.npy`` files, ``smpl_mean_params`` ``.npz`` and the ``gmm_08``-layout pose prior, named
        as in the cache.
    """
    sources = [model_path(cache_dir), j_regressor_h36m_path(cache_dir),
               j_regressor_extra_path(cache_dir), mean_params_path(cache_dir),
               gmm_prior_path(cache_dir)]
    out_dir = Path(out_dir)
    return [write_bytes(out_dir / src.name, src.read_bytes()) for src in sources]
