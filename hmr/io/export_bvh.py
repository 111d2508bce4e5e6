"""BVH export: SMPL's 24-joint skeleton with the fitted shape's bone offsets, and the motion.

The hierarchy is SMPL's kinematic tree with its joint names. Offsets are the rest-pose joint
offsets of the clip's shape (``betas``), in metres, in the y-up or z-up output frame; each leaf
(head, hands, feet) ends in an ``End Site`` half as long as its own bone. The pelvis carries six
channels (``Xposition Yposition Zposition Zrotation Xrotation Yrotation``) with a zero offset, so
its position channels are the pelvis position in the output frame; every other joint carries the
three rotation channels, degrees, intrinsic Z then X then Y (R = Rz · Rx · Ry, the CMU order).
``Frame Time`` is 1 / the video's fps. Forward kinematics of the file gives SMPL's joints.

    write_bvh(motion.to_up("y", smpl), rest_body(smpl, motion.betas), "out/export/0.bvh")
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from body_models.atomic import write_text
from hmr.io.motion import Motion, RestBody, local_rotations, rest_frame_rotation

EULER_ORDER = "ZXY"  # intrinsic: R = Rz @ Rx @ Ry
ROTATION_CHANNELS = " ".join(f"{axis}rotation" for axis in EULER_ORDER)
END_SITE_FRACTION = 0.5  # an End Site's length / its joint's own bone length


def bvh_channels(motion: Motion, rest: RestBody) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the BVH holds, before formatting.

    Returns:
        offsets (24, 3) metres in the output frame (the pelvis' is zero), root positions
        (T, 3) metres, Euler angles (T, 24, 3) degrees in ``EULER_ORDER``.
    """
    from scipy.spatial.transform import Rotation

    if motion.up is None:
        raise ValueError("turn the motion into an output frame first (Motion.to_up)")
    basis = rest_frame_rotation(motion.up)  # SMPL rest frame -> output rest frame
    local = local_rotations(motion)  # (T, 24, 3, 3)
    # The BVH rest skeleton is SMPL's turned by ``basis``. The root's rotation maps it into the
    # output frame (global_orient maps SMPL's rest frame there); the others are conjugated.
    local[:, 1:] = basis @ local[:, 1:] @ basis.T
    local[:, 0] = local[:, 0] @ basis.T
    euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler(EULER_ORDER, degrees=True)
    offsets = rest.offsets @ basis.T
    offsets[0] = 0.0
    root = rest.joints[0] + motion.transl  # (T, 3) the posed pelvis (SMPL rotates about it)
    return offsets, root, euler.reshape(motion.num_frames, 24, 3)


def write_bvh(motion: Motion, rest: RestBody, path: str | os.PathLike) -> Path:
    """Write ``motion`` (already in an output frame, ``Motion.to_up``) as a BVH file.

    Args:
        motion: T frames; one shape.
        rest: the rest body of ``motion.betas`` (``rest_body``).
        path: the ``.bvh`` to write (atomically).
    """
    offsets, root, euler = bvh_channels(motion, rest)
    basis = rest_frame_rotation(motion.up)
    lines = ["HIERARCHY"]
    order: list[int] = []

    def joint(index: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if rest.parents[index] < 0 else "JOINT"
        lines.append(f"{pad}{keyword} {rest.names[index]}")
        lines.append(f"{pad}{{")
        x, y, z = offsets[index]
        lines.append(f"{pad}  OFFSET {x:.6f} {y:.6f} {z:.6f}")
        if rest.parents[index] < 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {ROTATION_CHANNELS}")
        else:
            lines.append(f"{pad}  CHANNELS 3 {ROTATION_CHANNELS}")
        order.append(index)
        children = rest.children[index]
        for child in children:
            joint(child, depth + 1)
        if not children:
            ex, ey, ez = END_SITE_FRACTION * (rest.offsets[index] @ basis.T)
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {ex:.6f} {ey:.6f} {ez:.6f}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint(0, 0)
    lines += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    for t in range(motion.num_frames):
        values = [*root[t]] + [v for index in order for v in euler[t, index]]
        lines.append(" ".join(f"{v:.6f}" for v in values))
    return write_text(path, "\n".join(lines) + "\n")
