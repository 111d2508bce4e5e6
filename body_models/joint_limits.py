"""SMPL's body joints' ranges of motion, and the Euler angles they are written in.

A pose is 24 joints × axis-angle in radians in ``joints.SMPL_24`` order: ``global_orient`` is the
root (pelvis), ``body_pose`` the other 23 joints (69 values, ``BODY_JOINTS``). ``JOINT_LIMITS``
gives each body joint's range; ``clamp_to_limits`` and ``within_limits`` apply it, and
``euler_to_body_pose`` / ``body_pose_to_euler`` convert between the two ways of writing a pose.
The procedural motions of ``body_models.motion`` are written in these angles.

Joint angles are written as Euler angles: for each body joint, the angles about its parent's x, y
and z axes, composed in the joint's own order (``JointLimit.order``, scipy's intrinsic
convention). The order is chosen so that the twist about the bone's own axis comes first and the
joint's main hinge last, which keeps the angle ranges free of Euler ambiguities:

- legs, spine, neck and head (bones along y): ``"XZY"``, ``R = Rx(x) · Rz(z) · Ry(y)``;
- collars, shoulders, wrists, hands (bones along x): ``"ZYX"``, ``R = Rz(z) · Ry(y) · Rx(x)``;
- elbows: ``"YZX"``, ``R = Ry(y) · Rz(z) · Rx(x)``, so flexion (y) is the last rotation.

Sign conventions (checked by forward kinematics in ``tests/body_models/test_motion.py``):

- knee flexion (shin back, −z) is positive about x, for both knees;
- hip flexion (thigh forward, +z) is negative about x, for both hips;
- left elbow flexion (forearm forward, +z) is negative about y, right elbow flexion positive;
- lowering the left arm from the T-pose is negative about z at the left collar and shoulder,
  lowering the right arm positive;
- in general a right-side joint mirrors its left twin: same x angle, y and z negated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from body_models.joints import SMPL_24

__all__ = ["BODY_JOINTS", "JOINT_LIMITS", "JointLimit", "body_pose_to_euler", "clamp_to_limits", "euler_to_body_pose",
           "within_limits"]

BODY_JOINTS: tuple[str, ...] = SMPL_24.names[1:]  # the 23 joints of body_pose, in order
_NUM_BODY = len(BODY_JOINTS)


@dataclass(frozen=True)
class JointLimit:
    """Range of motion of one joint as Euler angle intervals, radians.

    Attributes:
        order: scipy intrinsic Euler sequence the angles compose in (``"XZY"``: R = Rx·Rz·Ry).
        x, y, z: (low, high) angle about the parent's x, y and z axis.
    """

    order: str
    x: tuple[float, float]
    y: tuple[float, float]
    z: tuple[float, float]

    def mirrored(self) -> JointLimit:
        """The limits of the twin joint on the other side: x kept, y and z negated."""
        return JointLimit(self.order, self.x, (-self.y[1], -self.y[0]), (-self.z[1], -self.z[0]))


# Left-side and centre joints; each right joint mirrors its left twin. Ranges are approximate
# active ranges of motion, kept inside (-π/2, π/2) for the middle angle of each order.
_LEFT_AND_CENTRE_LIMITS: dict[str, JointLimit] = {
    "left_hip": JointLimit("XZY", x=(-2.1, 0.5), y=(-0.6, 0.6), z=(-0.4, 0.9)),
    "spine1": JointLimit("XZY", x=(-0.4, 0.8), y=(-0.5, 0.5), z=(-0.4, 0.4)),
    "left_knee": JointLimit("XZY", x=(-0.05, 2.5), y=(-0.3, 0.3), z=(-0.1, 0.1)),
    "spine2": JointLimit("XZY", x=(-0.3, 0.5), y=(-0.4, 0.4), z=(-0.3, 0.3)),
    "left_ankle": JointLimit("XZY", x=(-0.6, 0.9), y=(-0.4, 0.4), z=(-0.4, 0.4)),
    "spine3": JointLimit("XZY", x=(-0.3, 0.5), y=(-0.4, 0.4), z=(-0.3, 0.3)),
    "left_foot": JointLimit("XZY", x=(-0.5, 0.5), y=(-0.15, 0.15), z=(-0.15, 0.15)),
    "neck": JointLimit("XZY", x=(-0.6, 0.7), y=(-0.7, 0.7), z=(-0.5, 0.5)),
    "left_collar": JointLimit("ZYX", x=(-0.3, 0.3), y=(-0.4, 0.3), z=(-0.4, 0.5)),
    "head": JointLimit("XZY", x=(-0.5, 0.6), y=(-0.8, 0.8), z=(-0.4, 0.4)),
    "left_shoulder": JointLimit("ZYX", x=(-1.8, 1.2), y=(-1.5, 0.7), z=(-1.5, 1.3)),
    "left_elbow": JointLimit("YZX", x=(-1.0, 1.0), y=(-2.6, 0.05), z=(-0.2, 0.2)),
    "left_wrist": JointLimit("ZYX", x=(-0.8, 0.8), y=(-0.5, 0.5), z=(-1.1, 1.0)),
    "left_hand": JointLimit("ZYX", x=(-0.3, 0.3), y=(-0.3, 0.3), z=(-0.6, 0.4)),
}


def _all_limits() -> dict[str, JointLimit]:
    table = {}
    for name in BODY_JOINTS:
        if name.startswith("right_"):
            table[name] = _LEFT_AND_CENTRE_LIMITS["left_" + name[6:]].mirrored()
        else:
            table[name] = _LEFT_AND_CENTRE_LIMITS[name]
    return table


JOINT_LIMITS: dict[str, JointLimit] = _all_limits()
"""Per body joint (name → ``JointLimit``), for all 23 joints of ``body_pose``."""

_LOWER = np.array([[JOINT_LIMITS[n].x[0], JOINT_LIMITS[n].y[0], JOINT_LIMITS[n].z[0]] for n in BODY_JOINTS])
_UPPER = np.array([[JOINT_LIMITS[n].x[1], JOINT_LIMITS[n].y[1], JOINT_LIMITS[n].z[1]] for n in BODY_JOINTS])
_JOINTS_BY_ORDER: dict[str, list[int]] = {}
for _j, _name in enumerate(BODY_JOINTS):
    _JOINTS_BY_ORDER.setdefault(JOINT_LIMITS[_name].order, []).append(_j)


# ---------------------------------------------------------------------------------------------
# Euler angles <-> axis-angle, limits


def _check_trailing(x: np.ndarray, dims: tuple[int, ...], name: str) -> None:
    if x.ndim < len(dims) or tuple(x.shape[x.ndim - len(dims):]) != dims:
        wanted = ", ".join(["..."] + [str(d) for d in dims])
        raise InputError(f"{name} must have shape ({wanted}), got {tuple(x.shape)}")


def euler_to_body_pose(euler: np.ndarray) -> np.ndarray:
    """Axis-angle body pose from per-joint Euler angles.

    Args:
        euler: (..., 23, 3) radians, the angles about the parent's (x, y, z) axes of each body
            joint, composed in the joint's ``JOINT_LIMITS[name].order``.

    Returns:
        (..., 69) float64 axis-angle body pose, radians.
    """
    euler = np.asarray(euler, dtype=np.float64)
    _check_trailing(euler, (_NUM_BODY, 3), "euler")
    flat = euler.reshape(-1, _NUM_BODY, 3)
    out = np.empty_like(flat)
    for order, joints in _JOINTS_BY_ORDER.items():
        columns = ["XYZ".index(axis) for axis in order]
        angles = flat[:, joints][:, :, columns]  # (N, J_order, 3) in the order's sequence
        rotvec = Rotation.from_euler(order, angles.reshape(-1, 3)).as_rotvec()
        out[:, joints] = rotvec.reshape(-1, len(joints), 3)
    return out.reshape(*euler.shape[:-2], _NUM_BODY * 3)


def body_pose_to_euler(body_pose: np.ndarray) -> np.ndarray:
    """Per-joint Euler angles of an axis-angle body pose (inverse of ``euler_to_body_pose``).

    Of the two Euler decompositions of a rotation, the one whose middle angle lies in
    [-π/2, π/2] is returned; every joint range in ``JOINT_LIMITS`` lies on that branch.

    Args:
        body_pose: (..., 69) axis-angle, radians.

    Returns:
        (..., 23, 3) float64 angles about the parent's (x, y, z) axes, radians.
    """
    body_pose = np.asarray(body_pose, dtype=np.float64)
    _check_trailing(body_pose, (_NUM_BODY * 3,), "body_pose")
    flat = body_pose.reshape(-1, _NUM_BODY, 3)
    out = np.empty_like(flat)
    for order, joints in _JOINTS_BY_ORDER.items():
        columns = ["XYZ".index(axis) for axis in order]
        with warnings.catch_warnings():  # gimbal lock only means the split is not unique
            warnings.simplefilter("ignore", UserWarning)
            angles = Rotation.from_rotvec(flat[:, joints].reshape(-1, 3)).as_euler(order)
        placed = np.empty_like(angles)
        placed[:, columns] = angles
        out[:, joints] = placed.reshape(-1, len(joints), 3)
    return out.reshape(*body_pose.shape[:-1], _NUM_BODY, 3)


def clamp_to_limits(body_pose: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Clamp every joint of a body pose into ``JOINT_LIMITS``.

    Each joint's Euler angles are clipped to their ranges independently; a pose already within
    the limits comes back unchanged (up to floating-point round-off). Not differentiable.

    Args:
        body_pose: (..., 69) axis-angle, radians; numpy array or torch tensor.

    Returns:
        (..., 69) the clamped pose, of the input's type, dtype (and device).
    """
    if isinstance(body_pose, torch.Tensor):
        clamped = clamp_to_limits(body_pose.detach().cpu().double().numpy())
        return torch.as_tensor(clamped).to(dtype=body_pose.dtype, device=body_pose.device)
    body_pose = np.asarray(body_pose)
    dtype = body_pose.dtype if body_pose.dtype.kind == "f" else np.float64
    euler = np.clip(body_pose_to_euler(body_pose), _LOWER, _UPPER)
    return euler_to_body_pose(euler).astype(dtype)


def within_limits(body_pose: np.ndarray, atol: float = 1e-4) -> np.ndarray:
    """Whether each pose lies within ``JOINT_LIMITS``.

    Args:
        body_pose: (..., 69) axis-angle, radians.
        atol: tolerance on each Euler angle, radians.

    Returns:
        (...) bool.
    """
    euler = body_pose_to_euler(body_pose)
    inside = (euler >= _LOWER - atol) & (euler <= _UPPER + atol)
    return inside.all(axis=(-2, -1))

