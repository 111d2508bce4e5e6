"""The mannequin as designed: its joints, where its landmarks sit, and the implicit body around them.

Everything is given for the subject's left side and the midline, in SMPL's frame (metres, y up,
facing +z, the subject's left at +x); the right side mirrors the left in x. The primitives
(``body_models.mannequin.implicit.Limb``) dress the skeleton's bones; ``surface`` turns their
smooth union into the mesh.
"""

from __future__ import annotations

import numpy as np

from body_models.joints import SMPL_24
from body_models.mannequin.implicit import Limb

X, Y, Z = np.eye(3)  # the axes a primitive's cross-section leans to (``Limb``'s ``hint``)

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


_TORSO_JOINTS = ("pelvis", "spine1", "spine2", "spine3")
"""The joints that share the torso's primitive, split along the spine by height."""


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
    items.append(Limb((0, y0, 0), (0, y1, 0), (levels[:, 0] - y0) / (y1 - y0), levels[:, 1],
                      levels[:, 2], X, cap_a=0.05, cap_b=0.045, o2=-levels[:, 3], blend=0.03,
                      owner="torso"))
    # Buttocks and chest: mirror pairs that meet at the midline.
    items.append(tuple(Limb(c, c, [0, 1], 0.085, 0.072, X, cap_a=0.09, cap_b=0.09, blend=0.03,
                            owner="pelvis")
                       for c in ((0.072, -0.300, -0.040), (-0.072, -0.300, -0.040))))
    items.append(tuple(Limb(c, c, [0, 1], 0.075, 0.035, X, cap_a=0.05, cap_b=0.05, blend=0.035,
                            owner="spine3")
                       for c in ((0.07, 0.135, 0.058), (-0.07, 0.135, 0.058))))
    for s in (1.0, -1.0):
        side = "left" if s > 0 else "right"
        m = np.array([s, 1.0, 1.0])
        hip, knee, ankle, foot = (J["left_hip"] * m, J["left_knee"] * m, J["left_ankle"] * m,
                                  J["left_foot"] * m)
        # Thigh, shin (calf bulging behind), foot, toes.
        items.append(Limb(hip + 0.03 * Y, knee, [0, 0.45, 1], [0.088, 0.072, 0.054],
                          [0.090, 0.075, 0.056], X, blend=0.03, owner=f"{side}_hip"))
        items.append(Limb(knee, ankle, [0, 0.3, 1], [0.052, 0.054, 0.033],
                          [0.054, 0.058, 0.036], X, o2=[0.0, -0.012, 0.0], blend=0.025,
                          owner=f"{side}_knee"))
        items.append(Limb(np.array([0.088, -1.118, -0.045]) * m, foot - 0.006 * Y, [0, 1],
                          [0.036, 0.047], [0.044, 0.031], X, cap_a=0.042, cap_b=0.03,
                          blend=0.025, owner=f"{side}_ankle"))
        items.append(Limb(foot - 0.012 * Y, np.array([0.118, -1.143, 0.165]) * m, [0, 1],
                          [0.046, 0.038], [0.027, 0.021], X, cap_b=0.025, blend=0.015,
                          owner=f"{side}_foot"))
        # Arm: trapezius, upper arm with deltoid, forearm, palm, mitten, thumb (palm down).
        sh, el, wr, hd = (J["left_shoulder"] * m, J["left_elbow"] * m, J["left_wrist"] * m,
                          J["left_hand"] * m)
        items.append(Limb(np.array([0.02, 0.238, -0.025]) * m, sh + np.array([-0.01 * s, 0.005, 0]),
                          [0, 1], [0.046, 0.048], [0.058, 0.05], Y, blend=0.03,
                          owner=f"{side}_collar"))
        items.append(Limb(sh, el, [0, 0.22, 1], [0.052, 0.047, 0.037], [0.055, 0.047, 0.040],
                          Y, cap_a=0.05, blend=0.025, owner=f"{side}_shoulder"))
        items.append(Limb(el, wr, [0, 0.3, 1], [0.035, 0.037, 0.023], [0.040, 0.044, 0.030],
                          Y, blend=0.02, owner=f"{side}_elbow"))
        items.append(Limb(wr + np.array([0.005 * s, -0.002, 0]), hd, [0, 1], [0.016, 0.019],
                          [0.032, 0.043], Y, cap_a=0.016, blend=0.015, owner=f"{side}_wrist"))
        items.append(Limb(hd - 0.001 * Y, np.array([0.848, 0.203, -0.040]) * m, [0, 1],
                          [0.015, 0.011], [0.043, 0.036], Y, cap_b=0.022, blend=0.012,
                          owner=f"{side}_hand"))
        items.append(Limb(np.array([0.698, 0.205, -0.006]) * m, np.array([0.748, 0.195, 0.040]) * m,
                          [0, 1], [0.015, 0.012], [0.016, 0.0125], Y, cap_b=0.0125,
                          blend=0.012, owner=f"{side}_wrist"))
        # Ear.
        items.append(Limb(np.array([0.076, 0.418, 0.0]) * m, np.array([0.076, 0.418, 0.0]) * m,
                          [0, 1], 0.012, 0.019, X, cap_a=0.03, cap_b=0.03, blend=0.008,
                          owner="head"))
    # Neck, skull, face, chin, brow, nose.
    items.append(Limb((0, 0.205, -0.022), (0, 0.37, -0.012), [0, 1], [0.062, 0.054],
                      [0.056, 0.05], X, blend=0.035, owner="neck"))
    for centre, radii, blend in (((0, 0.432, 0.004), (0.077, 0.096, 0.098), 0.025),
                                 ((0, 0.378, 0.038), (0.062, 0.058, 0.064), 0.03),
                                 ((0, 0.338, 0.072), (0.030, 0.022, 0.026), 0.02),
                                 ((0, 0.458, 0.080), (0.062, 0.020, 0.026), 0.02)):
        items.append(Limb(centre, centre, [0, 1], radii[0], radii[2], X, cap_a=radii[1],
                          cap_b=radii[1], blend=blend, owner="head"))
    items.append(Limb((0, 0.446, 0.100), (0, 0.404, 0.128), [0, 1], [0.009, 0.016],
                      [0.010, 0.015], X, blend=0.012, owner="head"))
    return items
