"""The motion world: every movement within the joint limits and doing what it says; transitions,
seeds, the prior's offsets, the arena; motion-following metrics; coverage of a prior."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from body_models.motion import BODY_JOINTS, body_pose_to_euler, within_limits
from body_models.motion_coverage import coverage, format_coverage, sample_prior
from body_models.motion_metrics import flexion_angles, motion_following
from body_models.motion_world import WORLD_SEGMENTS, generate_world_motion, sample_world_poses
from body_models.priors import fit_gmm

FPS = 30.0
KNEE = BODY_JOINTS.index("left_knee")
SHOULDER = BODY_JOINTS.index("left_shoulder")


def _only(segment: str, seed: int = 0, frames: int = 120):
    return generate_world_motion(frames, fps=FPS, seed=seed, segments=(segment,), segment_seconds=(10.0, 10.0))


@pytest.mark.parametrize("segment", WORLD_SEGMENTS)
def test_every_segment_is_smooth_and_within_limits(segment):
    clip = _only(segment)
    assert clip.segments == (segment,) and clip.kind == "world"
    assert within_limits(clip.body_pose).all()
    assert np.isfinite(clip.transl).all() and np.isfinite(clip.global_orient).all()
    euler = body_pose_to_euler(clip.body_pose)
    assert np.abs(np.diff(euler, axis=0)).max() < 0.5  # radians per frame at 30 fps (a jump's arms are fastest)
    assert np.abs(np.diff(clip.transl, axis=0)).max() < 0.25  # metres per frame


def test_segments_do_what_they_say():
    def travelled(clip):
        return float(np.hypot(*(clip.transl[-1, [0, 2]] - clip.transl[0, [0, 2]])))

    def knee_max(clip):
        return float(body_pose_to_euler(clip.body_pose)[:, KNEE, 0].max())

    def heading_change(clip):
        forward = Rotation.from_rotvec(clip.global_orient).apply([0.0, 0.0, 1.0])
        return float(np.degrees(np.arccos(np.clip(forward @ forward[0], -1, 1))).max())

    walks = [_only("walk", s) for s in range(4)]
    runs = [_only("run", s) for s in range(4)]
    assert min(travelled(c) for c in walks) > 1.0 and min(travelled(c) for c in runs) > 4.0  # 4 s
    assert np.mean([knee_max(c) for c in runs]) > np.mean([knee_max(c) for c in walks])
    assert min(knee_max(_only(s, 1)) for s in ("sit", "crouch")) > 1.2
    assert max(travelled(_only(s, 2)) for s in ("sit", "crouch", "bend", "reach", "idle")) < 0.3
    assert max((c.transl[:, 1] - np.median(c.transl[:, 1])).max() for c in (_only("jump", s) for s in range(3))) > 0.08
    assert heading_change(_only("turn", 3)) > 60.0
    shoulder = body_pose_to_euler(_only("arm_swing", 4).body_pose)[:, SHOULDER]
    assert np.ptp(shoulder, axis=0).max() > 1.0


def test_clips_string_movements_together_with_smooth_transitions():
    clip = generate_world_motion(600, fps=FPS, seed=5)  # 20 s
    assert len(clip.segments) >= 5 and len(set(clip.segments)) >= 3
    assert len(clip.starts) == len(clip.segments) and np.all(np.diff(clip.starts) > 0)
    assert within_limits(clip.body_pose).all()
    assert np.abs(np.diff(body_pose_to_euler(clip.body_pose), axis=0)).max() < 0.5
    again = generate_world_motion(600, fps=FPS, seed=5)
    np.testing.assert_array_equal(clip.body_pose, again.body_pose)
    assert np.abs(generate_world_motion(600, fps=FPS, seed=6).body_pose - clip.body_pose).max() > 0.1


def test_prior_offsets_and_the_arena(mannequin_smpl):
    poses = sample_world_poses(400, seed=0)
    prior = fit_gmm(poses.astype(np.float64), n_components=2, seed=0)
    plain = generate_world_motion(200, fps=FPS, seed=2)
    around = generate_world_motion(200, fps=FPS, seed=2, prior=prior, prior_scale=0.5)
    assert within_limits(around.body_pose).all()
    assert 0.02 < np.abs(around.body_pose - plain.body_pose).mean() < 0.5
    for seed in range(3):
        clip = generate_world_motion(300, fps=FPS, seed=seed, segments=("run",), arena_radius=1.0)
        assert np.hypot(clip.transl[:, 0], clip.transl[:, 2]).max() < 3.5
    assert poses.shape == (400, 69) and poses.dtype == np.float32 and within_limits(poses).all()
    with pytest.raises(InputError, match="moonwalk"):
        generate_world_motion(10, segments=("moonwalk",))


def test_flexion_and_motion_following_scores():
    t = np.linspace(0.0, 2.0 * np.pi, 50)
    joints = np.zeros((50, 17, 3))
    # H36M-17: hips 1, 4; knees 2, 5; ankles 3, 6; shoulders 11, 14; elbows 12, 15; wrists 13, 16.
    bend = 0.5 + 0.5 * np.sin(t)  # radians
    for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
        joints[:, hip] = [0.0, 0.0, 0.0]
        joints[:, knee] = [0.0, 0.4, 0.0]
        joints[:, ankle] = np.stack([np.zeros(50), 0.4 + 0.4 * np.cos(bend), -0.4 * np.sin(bend)], -1)
    for shoulder, elbow, wrist in ((11, 12, 13), (14, 15, 16)):
        joints[:, shoulder] = [0.2, -0.5, 0.0]
        joints[:, elbow] = [0.2, -0.2, 0.0]
        joints[:, wrist] = np.stack([np.full(50, 0.2), 0.1 * np.cos(t), 0.3 * np.abs(np.sin(t))], -1)
    angles = flexion_angles(joints)
    np.testing.assert_allclose(angles["left_knee"], bend, atol=1e-9)
    perfect = motion_following(joints, joints)
    assert perfect["knee_range_ratio"] == pytest.approx(1.0) and perfect["knee_correlation"] == pytest.approx(1.0)
    assert perfect["static_improvement"] == pytest.approx(1.0) and perfect["mpjpe_mm"] == pytest.approx(0.0)
    assert perfect["knee_range_true_deg"] == pytest.approx(np.degrees(np.ptp(bend)))
    still = motion_following(np.broadcast_to(joints.mean(0), joints.shape), joints)
    assert still["static_improvement"] == pytest.approx(0.0) and still["knee_range_ratio"] < 0.05
    half = joints.copy()
    half[:, 3] = half[:, 2] + (joints[:, 3] - joints[:, 2]) * 1.0  # same shin, damped bend below
    damped = 0.5 + 0.25 * np.sin(t)
    half[:, [3, 6]] = np.stack([np.zeros(50), 0.4 + 0.4 * np.cos(damped), -0.4 * np.sin(damped)], -1)[:, None]
    scores = motion_following(half, joints)
    assert scores["knee_range_ratio"] == pytest.approx(0.5, abs=0.01) and scores["knee_correlation"] > 0.99
    with pytest.raises(InputError, match=r"\(T, 17, 3\)"):
        motion_following(joints[:, :16], joints[:, :16])


def test_coverage_of_a_prior():
    rng = np.random.default_rng(0)
    poses = sample_world_poses(600, seed=3).astype(np.float64)
    prior = fit_gmm(poses, n_components=2, seed=0)
    # 8,000 samples: the tolerance is still over 3.5 standard errors on every value (20,000 cost
    # 2.5 s more, sample_prior gathering a (n, 69, 69) stack of Cholesky factors)
    samples = sample_prior(prior, 8000, seed=1)
    np.testing.assert_allclose(samples.mean(0), prior.weights @ prior.means, atol=0.02)
    wide = coverage(sample_prior(prior, 3000, seed=2), prior, num_prior_samples=500, radius=0.3)
    one = coverage(poses[:1] + 0.0 * rng.standard_normal((1, 69)), prior, num_prior_samples=500, radius=0.3)
    assert wide.mass_visited > 0.5 > one.mass_visited
    assert wide.of_prior.mean() > 0.9 and one.of_prior.mean() < 0.05
    assert wide.of_prior.shape == (23, 3) and 0 <= wide.of_limits.min() and wide.of_limits.max() <= 1
    table = format_coverage(wide, "samples")
    assert "left_knee" in table and "% of the prior's mass" in table
