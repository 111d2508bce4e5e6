"""Procedural SMPL motion: sign conventions, limits, clips and pose samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from body_models.joints import SMPL_24
from body_models.motion import (
    BODY_JOINTS,
    JOINT_LIMITS,
    MOTION_KINDS,
    MotionClip,
    body_pose_to_euler,
    clamp_to_limits,
    euler_to_body_pose,
    generate_motion,
    sample_poses,
    within_limits,
)

# A simple T-pose skeleton in SMPL's frame (y up, facing +z, the subject's left at +x), metres.
_REST = {
    "pelvis": (0.0, 0.0, 0.0), "spine1": (0.0, 0.1, 0.0), "spine2": (0.0, 0.2, 0.0),
    "spine3": (0.0, 0.3, 0.0), "neck": (0.0, 0.5, 0.0), "head": (0.0, 0.6, 0.0),
    "left_hip": (0.1, -0.1, 0.0), "left_knee": (0.1, -0.5, 0.0), "left_ankle": (0.1, -0.9, 0.0),
    "left_foot": (0.1, -0.95, 0.1), "left_collar": (0.08, 0.42, 0.0),
    "left_shoulder": (0.18, 0.45, 0.0), "left_elbow": (0.45, 0.45, 0.0),
    "left_wrist": (0.7, 0.45, 0.0), "left_hand": (0.8, 0.45, 0.0),
}
REST = np.array([
    _REST[n] if not n.startswith("right_") else np.multiply(_REST["left_" + n[6:]], (-1.0, 1.0, 1.0))
    for n in SMPL_24.names
])


def forward_kinematics(global_orient: np.ndarray, body_pose: np.ndarray) -> np.ndarray:
    """(T, 3), (T, 69) axis-angle → (T, 24, 3) joints of the simple skeleton (SMPL's chain)."""
    pose = np.concatenate([np.atleast_2d(global_orient), np.atleast_2d(body_pose)], axis=1)
    local = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(len(pose), 24, 3, 3)
    world = np.zeros_like(local)
    joints = np.zeros((len(pose), 24, 3))
    for j, parent in enumerate(SMPL_24.parents):
        if parent < 0:
            world[:, j], joints[:, j] = local[:, j], REST[j]
        else:
            world[:, j] = world[:, parent] @ local[:, j]
            joints[:, j] = joints[:, parent] + world[:, parent] @ (REST[j] - REST[parent])
    return joints


def pose_with(joint: str, axis_angle) -> np.ndarray:
    """(69,) body pose with one joint rotated."""
    body_pose = np.zeros(69)
    j = BODY_JOINTS.index(joint)
    body_pose[3 * j:3 * j + 3] = axis_angle
    return body_pose


def joint(joints: np.ndarray, name: str) -> np.ndarray:
    return joints[..., SMPL_24.index(name), :]


def clip_joints(clip: MotionClip) -> np.ndarray:
    return forward_kinematics(clip.global_orient, clip.body_pose) + clip.transl[:, None]


# --- sign conventions -------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
def test_knee_flexion_is_positive_about_x(side):
    joints = forward_kinematics(np.zeros(3), pose_with(f"{side}_knee", (1.0, 0.0, 0.0)))[0]
    assert joint(joints, f"{side}_ankle")[2] < joint(joints, f"{side}_knee")[2] - 0.2  # shin back
    assert JOINT_LIMITS[f"{side}_knee"].x[1] > 2.0 and JOINT_LIMITS[f"{side}_knee"].x[0] > -0.1


@pytest.mark.parametrize("side", ["left", "right"])
def test_hip_flexion_is_negative_about_x(side):
    joints = forward_kinematics(np.zeros(3), pose_with(f"{side}_hip", (-1.0, 0.0, 0.0)))[0]
    assert joint(joints, f"{side}_knee")[2] > joint(joints, f"{side}_hip")[2] + 0.2  # thigh forward
    assert JOINT_LIMITS[f"{side}_hip"].x[0] < -1.5 and JOINT_LIMITS[f"{side}_hip"].x[1] < 1.0


@pytest.mark.parametrize("side, sign", [("left", -1.0), ("right", 1.0)])
def test_elbow_flexion_about_y(side, sign):
    joints = forward_kinematics(np.zeros(3), pose_with(f"{side}_elbow", (0.0, sign * 1.0, 0.0)))[0]
    assert joint(joints, f"{side}_wrist")[2] > joint(joints, f"{side}_elbow")[2] + 0.15  # forward
    low, high = JOINT_LIMITS[f"{side}_elbow"].y
    assert (low < -2.0 and high < 0.1) if side == "left" else (high > 2.0 and low > -0.1)


@pytest.mark.parametrize("side, sign", [("left", -1.0), ("right", 1.0)])
@pytest.mark.parametrize("part", ["collar", "shoulder"])
def test_lowering_the_arm_is_about_z(side, sign, part):
    joints = forward_kinematics(np.zeros(3), pose_with(f"{side}_{part}", (0.0, 0.0, sign * 1.0)))[0]
    assert joint(joints, f"{side}_wrist")[1] < joint(joints, f"{side}_shoulder")[1] - 0.1
    low, high = JOINT_LIMITS[f"{side}_{part}"].z
    assert (low if side == "left" else -high) < -0.35  # the limits allow lowering


def test_limits_table_covers_body_joints_and_mirrors():
    assert tuple(JOINT_LIMITS) == BODY_JOINTS == SMPL_24.names[1:]
    for name, limit in JOINT_LIMITS.items():
        for axis in "xyz":
            low, high = getattr(limit, axis)
            assert low < high
        middle = limit.order[1].lower()  # the middle Euler angle must stay off gimbal lock
        assert max(abs(v) for v in getattr(limit, middle)) < np.pi / 2
        if name.startswith("left_"):
            assert JOINT_LIMITS["right_" + name[5:]] == limit.mirrored()


def test_single_axis_euler_is_that_axis_angle():
    euler = np.zeros((23, 3))
    euler[BODY_JOINTS.index("left_elbow"), 1] = -1.2
    euler[BODY_JOINTS.index("right_knee"), 0] = 0.7
    body_pose = euler_to_body_pose(euler)
    expected = pose_with("left_elbow", (0, -1.2, 0)) + pose_with("right_knee", (0.7, 0, 0))
    np.testing.assert_allclose(body_pose, expected, atol=1e-12)


# --- Euler conversion and limits ---------------------------------------------------------------


def _random_within_limits(rng, n):
    low = np.array([[getattr(JOINT_LIMITS[j], a)[0] for a in "xyz"] for j in BODY_JOINTS])
    high = np.array([[getattr(JOINT_LIMITS[j], a)[1] for a in "xyz"] for j in BODY_JOINTS])
    return rng.uniform(low, high, size=(n, 23, 3))


def test_euler_round_trip_within_limits():
    euler = _random_within_limits(np.random.default_rng(0), 50).reshape(5, 10, 23, 3)
    body_pose = euler_to_body_pose(euler)
    assert body_pose.shape == (5, 10, 69)
    np.testing.assert_allclose(body_pose_to_euler(body_pose), euler, atol=1e-9)


def test_clamp_leaves_poses_within_limits_unchanged():
    body_pose = euler_to_body_pose(_random_within_limits(np.random.default_rng(1), 40))
    assert within_limits(body_pose).all()
    np.testing.assert_allclose(clamp_to_limits(body_pose), body_pose, atol=1e-9)


def test_clamp_brings_any_pose_within_limits():
    body_pose = np.random.default_rng(2).uniform(-2.0, 2.0, size=(200, 69))
    assert not within_limits(body_pose).any()
    clamped = clamp_to_limits(body_pose)
    assert clamped.shape == body_pose.shape and within_limits(clamped).all()
    np.testing.assert_allclose(clamp_to_limits(clamped), clamped, atol=1e-9)  # idempotent


def test_clamp_keeps_tensor_type_and_dtype():
    body_pose = torch.full((2, 69), 3.0, dtype=torch.float32)
    clamped = clamp_to_limits(body_pose)
    assert isinstance(clamped, torch.Tensor) and clamped.dtype == torch.float32
    assert within_limits(clamped.numpy()).all()
    assert clamp_to_limits(np.zeros(69, dtype=np.float32)).dtype == np.float32


def test_bad_shapes_raise():
    with pytest.raises(InputError, match=r"\(\.\.\., 69\)"):
        clamp_to_limits(np.zeros((2, 72)))
    with pytest.raises(InputError, match=r"\(\.\.\., 23, 3\)"):
        euler_to_body_pose(np.zeros((24, 3)))


# --- clips ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips():
    return {(kind, seed): generate_motion(kind, 120, fps=30.0, seed=seed)
            for kind in MOTION_KINDS for seed in (0, 1)}


def test_kinds():
    assert {"walk", "wave", "squat", "reach", "idle"} <= set(MOTION_KINDS)


def test_clip_layout(clips):
    for (kind, _), clip in clips.items():
        assert clip.kind == kind and clip.fps == 30.0 and clip.num_frames == 120
        assert clip.global_orient.shape == (120, 3) and clip.global_orient.dtype == np.float32
        assert clip.body_pose.shape == (120, 69) and clip.body_pose.dtype == np.float32
        assert clip.transl.shape == (120, 3) and clip.transl.dtype == np.float32
        assert np.isfinite(clip.body_pose).all() and np.isfinite(clip.transl).all()


def test_clips_are_deterministic_and_seeded(clips):
    again = generate_motion("walk", 120, fps=30.0, seed=0)
    np.testing.assert_array_equal(again.body_pose, clips["walk", 0].body_pose)
    np.testing.assert_array_equal(again.transl, clips["walk", 0].transl)
    for kind in MOTION_KINDS:
        assert np.abs(clips[kind, 0].body_pose - clips[kind, 1].body_pose).max() > 0.05


def test_clips_within_limits(clips):
    for clip in clips.values():
        assert within_limits(clip.body_pose).all(), clip.kind


def test_clips_are_smooth(clips):
    for clip in clips.values():
        pose = np.concatenate([clip.global_orient, clip.body_pose], axis=1).reshape(-1, 24, 3)
        rotations = Rotation.from_rotvec(pose.reshape(-1, 3).astype(np.float64))
        step = (rotations[:-24].inv() * rotations[24:]).magnitude()  # frame to frame, per joint
        assert step.max() < 0.3, clip.kind  # radians per frame at 30 fps
        assert np.abs(np.diff(clip.body_pose, axis=0)).max() < 0.3, clip.kind  # no axis-angle flips
        assert np.linalg.norm(np.diff(clip.transl, axis=0), axis=1).max() < 0.08, clip.kind


def test_arms_hang_down_in_natural_motions(clips):
    for kind in ("walk", "idle", "squat", "turn"):
        joints = clip_joints(clips[kind, 0])
        for side in ("left", "right"):
            below = joint(joints, f"{side}_shoulder")[:, 1] - joint(joints, f"{side}_wrist")[:, 1]
            assert below.min() > 0.15, (kind, side)


def test_wave_raises_one_forearm(clips):
    for seed in (0, 1):
        joints = clip_joints(clips["wave", seed])[60:]  # once the arm is up
        height = {name: joint(joints, name)[:, 1] for name in SMPL_24.names}
        up = [height[f"{s}_wrist"] - height[f"{s}_elbow"] for s in ("left", "right")]
        down = [height[f"{s}_shoulder"] - height[f"{s}_wrist"] for s in ("left", "right")]
        waving = int(np.argmax([u.mean() for u in up]))
        assert up[waving].min() > 0.1  # forearm points up
        assert down[1 - waving].min() > 0.15  # the other arm hangs


def test_walkers_move_forward_and_others_stay(clips):
    for seed in (0, 1):
        walk = clips["walk", seed]
        speed = (walk.transl[-1, 2] - walk.transl[0, 2]) / (walk.num_frames / walk.fps)
        assert 0.6 < speed < 2.0  # m/s along +z, where the subject faces
        assert (np.diff(walk.transl[:, 2]) > 0).all()
        assert np.ptp(walk.transl[:, 1]) < 0.08  # a gentle bounce
    for kind in ("wave", "reach", "idle", "turn"):
        assert np.abs(clips[kind, 0].transl).max() < 0.15, kind


def test_squat_goes_down_with_feet_on_the_ground(clips):
    clip = clips["squat", 0]
    assert clip.transl[:, 1].min() < -0.15
    deepest = int(np.argmin(clip.transl[:, 1]))
    euler = body_pose_to_euler(clip.body_pose[deepest])
    assert euler[BODY_JOINTS.index("left_knee"), 0] > 0.8
    assert euler[BODY_JOINTS.index("right_knee"), 0] > 0.8
    assert euler[BODY_JOINTS.index("left_hip"), 0] < -0.6


def test_generate_motion_rejects_bad_arguments():
    with pytest.raises(InputError, match="walk"):
        generate_motion("moonwalk", 10)
    with pytest.raises(InputError, match="num_frames"):
        generate_motion("walk", 0)
    with pytest.raises(InputError, match="fps"):
        generate_motion("walk", 10, fps=0.0)


def test_single_frame_clip():
    clip = generate_motion("idle", 1)
    assert clip.body_pose.shape == (1, 69)


# --- pose samples -----------------------------------------------------------------------------


def test_sample_poses():
    poses = sample_poses(500, seed=3)
    assert poses.shape == (500, 69) and poses.dtype == np.float32
    np.testing.assert_array_equal(poses, sample_poses(500, seed=3))
    assert not np.array_equal(poses, sample_poses(500, seed=4))
    assert within_limits(poses).all()
    assert poses.std(axis=0).max() > 0.3  # varied
    assert len(np.unique(poses.round(3), axis=0)) == 500
    assert sample_poses(0).shape == (0, 69)


def test_sample_poses_by_kind_weights():
    knee = SMPL_24.index("left_knee") - 1  # body_pose holds joints 1..23
    squats = sample_poses(200, seed=5, kind_weights={"squat": 1.0})
    waves = sample_poses(200, seed=5, kind_weights={"wave": 1.0})
    flexion = lambda p: np.linalg.norm(p.reshape(-1, 23, 3)[:, knee], axis=-1).mean()  # noqa: E731
    assert flexion(squats) > 2 * flexion(waves)  # squats bend the knees; waving stands
    np.testing.assert_array_equal(squats, sample_poses(200, seed=5, kind_weights={"squat": 2.0, "walk": 0.0}))
    assert within_limits(sample_poses(50, seed=5, kind_weights={"walk": 3, "turn": 1})).all()
    with pytest.raises(InputError, match="unknown motion kind 'run'"):
        sample_poses(10, kind_weights={"run": 1.0})
    with pytest.raises(InputError, match="positive sum"):
        sample_poses(10, kind_weights={"walk": 0.0})
