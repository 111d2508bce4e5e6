"""SMPLify on the mannequin: losses, translation estimates, recovery on synthetic keypoints, the
temporal term, and samples without keypoints. Run with ``-s`` to see the measured numbers."""

import dataclasses
import math
import pickle

import numpy as np
import pytest
import torch

from body_models import mannequin, metrics
from body_models.cameras import perspective_project
from body_models.errors import InputError, UnsafeFileError
from body_models.joints import COCO_17
from body_models.motion import generate_motion, sample_poses
from body_models.priors import GMMPrior, fit_gmm
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr.smplify import (SMPLify, SMPLifyConfig, angle_prior, estimate_translation,
                         estimate_translation_from_torso, gmof, reprojection_loss, temporal_loss)
from hmr.smplify.fit import TORSO_JOINTS

MM_PER_M = 1000.0
FOCAL_PX = 1000.0
CENTER_PX = (500.0, 500.0)  # a 1000 × 1000 image


@pytest.fixture(scope="module")
def gmm() -> GMMPrior:
    # A small prior fitted like the mannequin's own (body_models.mannequin.gmm_prior_path), but on
    # fewer poses so the test stays fast.
    return fit_gmm(sample_poses(1000, seed=0), n_components=8, max_iter=30)


def _upright(global_orient: torch.Tensor) -> torch.Tensor:
    """Compose π about x (y-down camera) with a body-frame orientation, (B, 3) axis-angle."""
    flip = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0]))
    return matrix_to_axis_angle(flip @ axis_angle_to_matrix(global_orient))


def _scene(smpl, body_pose, betas, global_orient, pelvis):
    """Place bodies with their pelvis at ``pelvis`` (B, 3) metres in the camera frame."""
    with torch.no_grad():
        rest = smpl(betas=betas, body_pose=body_pose, global_orient=global_orient)
        transl = pelvis - rest.joints[:, 0]
        return transl, smpl(betas=betas, body_pose=body_pose, global_orient=global_orient, transl=transl)


def _coco_pixels(out) -> torch.Tensor:
    return perspective_project(out.joint_set("coco_17"), FOCAL_PX, torch.tensor(CENTER_PX))


# ---------------------------------------------------------------------------------------------
# Losses


def test_gmof_and_reprojection_loss():
    r = torch.tensor([0.0, 1.0, 100.0, 1e6])
    assert torch.allclose(gmof(r, 100.0), torch.tensor([0.0, 10000.0 / 10001.0, 5000.0, 1e4]), rtol=1e-4)
    projected = torch.tensor([[[10.0, 0.0], [0.0, 0.0], [float("nan"), 0.0]]])
    keypoints = torch.zeros(1, 3, 2)
    conf = torch.tensor([[0.5, 1.0, 0.0]])
    loss = reprojection_loss(projected, keypoints, conf, sigma=100.0)
    assert loss.shape == (1, 3)
    assert torch.allclose(loss, torch.tensor([[0.25 * gmof(torch.tensor(10.0), 100.0), 0.0, 0.0]]))


def test_angle_prior_uses_spin_indices_and_signs():
    from hmr.smplify.losses import ANGLE_PRIOR_INDICES, ANGLE_PRIOR_SIGNS

    assert ANGLE_PRIOR_INDICES == (52, 55, 9, 12)  # FORMATS §3.11: full-pose 55, 58, 12, 15
    assert ANGLE_PRIOR_SIGNS == (1.0, -1.0, -1.0, -1.0)
    zero = torch.zeros(2, 69)
    assert torch.allclose(angle_prior(zero), torch.full((2,), 4.0))
    natural = zero.clone()
    natural[:, [52, 55, 9, 12]] = torch.tensor([-1.0, 1.0, 1.0, 1.0])  # elbows and knees bent
    unnatural = -natural
    assert (angle_prior(natural) < 1.0).all() and (angle_prior(unnatural) > 20.0).all()


def test_temporal_loss():
    t = torch.arange(6.0)
    linear = torch.stack([t, 2 * t, -t], dim=-1)[None, :, None]  # (1, 6, 1, 3) constant velocity
    assert temporal_loss(linear).item() == 0.0
    bumped = linear.clone()
    bumped[0, 3] += 1.0
    assert temporal_loss(bumped).item() > 0.0
    valid = torch.ones(1, 6, dtype=torch.bool)
    valid[0, 3] = False  # every second difference touching frame 3 is dropped
    assert temporal_loss(bumped, valid=valid).item() == 0.0
    assert temporal_loss(torch.zeros(2, 2, 3)).shape == (2,)


# ---------------------------------------------------------------------------------------------
# Translation


def test_estimate_translation_recovers_known_translation(mannequin_smpl):
    smpl = mannequin_smpl
    b = 3
    pose = torch.from_numpy(sample_poses(b, seed=5))
    orient = _upright(torch.zeros(b, 3))
    pelvis = torch.tensor([[0.3, -0.2, 3.0], [-0.5, 0.1, 4.0], [0.0, 0.0, 5.0]])
    transl, out = _scene(smpl, pose, torch.zeros(b, 10), orient, pelvis)
    uv = _coco_pixels(out)
    kp = torch.cat([uv, torch.ones(b, 17, 1)], dim=-1)
    with torch.no_grad():
        joints = smpl(body_pose=pose, global_orient=orient).joint_set("coco_17")
    estimate = estimate_translation(joints, kp, FOCAL_PX, CENTER_PX)
    assert torch.allclose(estimate, transl, atol=1e-3)
    torso = tuple(COCO_17.index(name) for name in TORSO_JOINTS)
    similar, ok = estimate_translation_from_torso(joints, kp, torso, FOCAL_PX, CENTER_PX)
    assert ok.all()
    assert ((similar - transl).norm(dim=-1) < 0.3).all()  # a rough start for stage 1
    kp[1, list(torso[:1]), 2] = 0.0
    assert not estimate_translation_from_torso(joints, kp, torso, FOCAL_PX, CENTER_PX)[1][1]


# ---------------------------------------------------------------------------------------------
# Recovery from the mean pose


def test_recovery_on_synthetic_keypoints(mannequin_smpl, gmm):
    smpl = mannequin_smpl
    b = 4
    rng = np.random.default_rng(1)
    pose = torch.from_numpy(sample_poses(b, seed=123))
    betas = torch.from_numpy(rng.normal(0.0, 0.5, (b, 10)).astype(np.float32))
    yaw = torch.from_numpy(rng.uniform(-0.5, 0.5, b).astype(np.float32))
    orient = _upright(torch.stack([torch.zeros(b), yaw, torch.zeros(b)], dim=-1))
    pelvis = torch.from_numpy(np.stack([rng.uniform(-0.5, 0.5, b), rng.uniform(-0.3, 0.3, b),
                                        rng.uniform(3.0, 5.0, b)], axis=-1).astype(np.float32))
    transl, gt = _scene(smpl, pose, betas, orient, pelvis)
    clean = _coco_pixels(gt)
    noisy = clean + torch.from_numpy(rng.normal(0.0, 1.5, clean.shape).astype(np.float32))
    conf = torch.ones(b, 17)
    for i in range(b):
        conf[i, rng.choice(17, size=2, replace=False)] = 0.0  # two dropped joints per person
    keypoints = torch.cat([noisy, conf[..., None]], dim=-1)

    config = SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX)
    smplify = SMPLify(smpl, gmm, config, mean_params=mannequin.mean_params())
    result = smplify(keypoints)

    def errors(global_orient, body_pose, betas_, transl_):
        with torch.no_grad():
            out = smpl(betas=betas_, body_pose=body_pose, global_orient=global_orient, transl=transl_)
        pred, true = out.joints, gt.joints
        pa = metrics.pa_mpjpe(pred, true) * MM_PER_M
        root = metrics.mpjpe(pred - pred[:, :1], true - true[:, :1]) * MM_PER_M
        pixels = (perspective_project(out.joint_set("coco_17"), FOCAL_PX, torch.tensor(CENTER_PX)) - clean).norm(dim=-1)
        return pa, root, (pixels * conf).sum().item() / conf.sum().item()

    mean = smplify.mean
    before = errors(mean["global_orient"].expand(b, 3), mean["body_pose"].expand(b, 69),
                    mean["betas"].expand(b, 10), transl)
    after = errors(result.global_orient, result.body_pose, result.betas, result.transl)
    print(f"\nSMPLify recovery (B={b}, 1.5 px noise, 2 joints dropped): "
          f"PA-MPJPE {before[0]:.1f} -> {after[0]:.1f} mm, root-aligned MPJPE {before[1]:.1f} -> "
          f"{after[1]:.1f} mm, 2D error {before[2]:.1f} -> {after[2]:.1f} px; "
          f"loss {result.initial_reprojection_loss.mean():.1f} -> {result.reprojection_loss.mean():.1f}")
    assert result.attempted.all() and result.fitted.all() and result.valid_fit.all()
    assert (result.reprojection_loss < result.initial_reprojection_loss).all()
    assert after[0] < 75.0 and after[0] < 0.8 * before[0]
    assert after[1] < 85.0 and after[1] < 0.8 * before[1]
    assert after[2] < 6.0
    assert result.vertices.shape == (b, 6890, 3) and result.joints.shape == (b, 24, 3)
    assert torch.isfinite(result.vertices).all()


# ---------------------------------------------------------------------------------------------
# Temporal term


def test_temporal_term_lowers_acceleration_error(mannequin_smpl, gmm):
    smpl = mannequin_smpl
    t = 12
    clip = generate_motion("wave", t, fps=30.0, seed=3)
    rng = np.random.default_rng(0)
    pose = torch.from_numpy(clip.body_pose)
    orient = _upright(torch.from_numpy(clip.global_orient))
    betas = torch.zeros(t, 10)
    with torch.no_grad():
        root = smpl(betas=betas[:1], body_pose=pose[:1], global_orient=orient[:1]).joints[:, 0]
    transl = (torch.tensor([0.0, 0.0, 4.0]) - root).expand(t, 3)
    with torch.no_grad():
        gt = smpl(betas=betas, body_pose=pose, global_orient=orient, transl=transl)
    uv = _coco_pixels(gt)
    keypoints = torch.cat([uv + torch.from_numpy(rng.normal(0.0, 4.0, uv.shape).astype(np.float32)),
                           torch.ones(t, 17, 1)], dim=-1)[None]  # (1, T, 17, 3): one sequence
    init_pose = pose + torch.from_numpy(rng.normal(0.0, 0.1, pose.shape).astype(np.float32))

    accel = {}
    for weight in (0.0, 300.0):
        config = SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX, num_iters=25,
                               temporal_weight=weight)
        result = SMPLify(smpl, gmm, config)(keypoints, global_orient=orient[None],
                                            body_pose=init_pose[None], betas=betas[None])
        assert result.body_pose.shape == (1, t, 69) and result.fitted.shape == (1, t)
        accel[weight] = metrics.accel_error(result.joints[0], gt.joints) * MM_PER_M
    print(f"\nSMPLify temporal term (T={t}, 4 px noise): acceleration error "
          f"{accel[0.0]:.1f} mm/frame² (off) -> {accel[300.0]:.1f} mm/frame² (temporal_weight 300)")
    assert accel[300.0] < 0.5 * accel[0.0]


# ---------------------------------------------------------------------------------------------
# Edge cases


def test_unfitted_samples_are_flagged_without_nan(mannequin_smpl, gmm):
    smpl = mannequin_smpl
    b = 3
    pose = torch.from_numpy(sample_poses(b, seed=9))
    transl, gt = _scene(smpl, pose, torch.zeros(b, 10), _upright(torch.zeros(b, 3)),
                        torch.tensor([[0.0, 0.0, 4.0]]).expand(b, 3))
    keypoints = torch.cat([_coco_pixels(gt), torch.ones(b, 17, 1)], dim=-1)
    keypoints[1, :, 2] = 0.0  # all-zero confidence
    keypoints[2] = float("nan")  # missing person
    config = SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX, num_iters=5)
    smplify = SMPLify(smpl, gmm, config)
    result = smplify(keypoints)
    assert result.attempted.tolist() == [True, False, False]
    assert result.fitted.tolist()[1:] == [False, False]
    assert result.valid_fit.tolist()[1:] == [False, False]
    for name in ("global_orient", "body_pose", "betas", "transl", "joints", "vertices",
                 "reprojection_loss", "initial_reprojection_loss"):
        assert torch.isfinite(getattr(result, name)).all(), name
    assert torch.equal(result.body_pose[1:], smplify.mean["body_pose"].expand(2, 69))
    assert torch.equal(result.reprojection_loss[1:], torch.zeros(2))


def test_inputs_and_shapes(mannequin_smpl, gmm):
    smpl = mannequin_smpl
    config = SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX, num_iters=2)
    smplify = SMPLify(smpl, gmm, config)
    keypoints = torch.rand(2, 17, 3) * torch.tensor([400.0, 400.0, 1.0]) + torch.tensor([300.0, 300.0, 0.0])
    with pytest.raises(InputError, match=r"\(2, 17, 2\)"):
        smplify(keypoints[..., :2])
    with pytest.raises(ValueError, match="25"):
        smplify(keypoints, joint_set="openpose_25")
    with pytest.raises(InputError, match=r"\(2, 69\)"):
        smplify(keypoints, body_pose=torch.zeros(2, 72))
    # Rotation-matrix initial estimates (HMR's output) and OpenPose-25 input.
    rotmats = axis_angle_to_matrix(torch.zeros(2, 23, 3))
    result = smplify(keypoints, body_pose=rotmats, global_orient=axis_angle_to_matrix(_upright(torch.zeros(2, 3))))
    assert result.body_pose.shape == (2, 69)
    op = SMPLify(smpl, gmm, SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX, num_iters=2,
                                          ignore_joints=("neck", "right_hip", "left_hip")))
    op_kp = torch.cat([keypoints, keypoints[:, :8]], dim=1)
    assert op(op_kp, joint_set="openpose_25").attempted.all()


def test_config_preset_and_unknown_key(tmp_path):
    from pathlib import Path

    preset = Path(__file__).resolve().parents[2] / "configs" / "smplify" / "default.yaml"
    assert SMPLifyConfig.from_yaml(preset) == SMPLifyConfig()
    assert SMPLifyConfig().num_iters == 100 and SMPLifyConfig().pose_prior_weight == 4.78
    with pytest.raises(InputError, match="num_iter"):
        SMPLifyConfig.from_dict({"num_iter": 10})


def test_spin_rules_zero_large_betas_and_flag_high_loss(mannequin_smpl, gmm):
    smpl = mannequin_smpl
    b = 3
    pose = torch.from_numpy(sample_poses(b, seed=4))
    orient = _upright(torch.zeros(b, 3))
    betas = torch.zeros(b, 10)
    betas[0, 3] = 4.0  # |beta| > 3: SPIN resets the shape
    betas[1, 3] = 2.5
    _, gt = _scene(smpl, pose, betas, orient, torch.tensor([[0.0, 0.0, 4.0]]).expand(b, 3))
    keypoints = torch.cat([_coco_pixels(gt), torch.ones(b, 17, 1)], dim=-1)
    keypoints[2, :, :2] += torch.from_numpy(np.random.default_rng(0).normal(0.0, 80.0, (17, 2)).astype(np.float32))
    config = SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX, num_iters=0)
    # With no iterations the fit equals the start, so nothing improves and the start is returned.
    result = SMPLify(smpl, gmm, config)(keypoints, global_orient=orient, body_pose=pose, betas=betas)
    assert result.attempted.all() and not result.fitted.any()
    assert result.betas_zeroed.tolist() == [True, False, False]
    assert torch.equal(result.betas[0], torch.zeros(10)) and result.betas[1, 3] == 2.5
    with torch.no_grad():
        zero_shape = smpl(body_pose=pose[:1], global_orient=orient[:1], transl=result.transl[:1])
    assert torch.allclose(result.joints[:1], zero_shape.joints, atol=1e-5)
    # The reported loss is the returned (zeroed) body's: the smaller body no longer matches.
    assert result.reprojection_loss[0] > 10.0 * result.reprojection_loss[1]
    # Joints moved by ~80 px give a loss far above SPIN's threshold of 100 px².
    assert result.reprojection_loss[1] < 100.0 < result.reprojection_loss[2]
    assert result.valid_fit.tolist() == [bool(result.reprojection_loss[0] < 100.0), True, False]
    strict = SMPLify(smpl, gmm, dataclasses.replace(config, loss_threshold=1e-9, max_abs_beta=None))
    result = strict(keypoints, global_orient=orient, body_pose=pose, betas=betas)
    assert not result.valid_fit.any() and not result.betas_zeroed.any() and result.betas[0, 3] == 4.0


class _Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_malicious_prior_pickle_is_refused(mannequin_smpl, tmp_path):
    path = tmp_path / "gmm_08.pkl"
    path.write_bytes(pickle.dumps({"means": _Boom()}, protocol=2))
    with pytest.raises(UnsafeFileError):
        SMPLify(mannequin_smpl, path)


# ---------------------------------------------------------------------------------------------
# Starts facing the wrong way


def _facing_angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) angle between the directions two (B, 3) orientations make the body face (its +z),
    seen from above (in the camera's x-z plane), degrees."""
    fa = (axis_angle_to_matrix(a) @ torch.tensor([0.0, 0.0, 1.0]))[:, [0, 2]]
    fb = (axis_angle_to_matrix(b) @ torch.tensor([0.0, 0.0, 1.0]))[:, [0, 2]]
    cos = (fa * fb).sum(-1) / (fa.norm(dim=-1) * fb.norm(dim=-1))
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))


def test_a_person_seen_from_behind_is_fitted_facing_away(mannequin_smpl, gmm):
    """Walkers seen from behind (yaw 180° ± 25°) fitted from the mean start, which faces the
    camera: the fit keeps the start that faces the way the keypoints' left and right imply."""
    smpl = mannequin_smpl
    b = 3
    pose = torch.from_numpy(sample_poses(b, seed=7))
    yaw = torch.tensor([math.pi - 0.4, math.pi, math.pi + 0.4])
    orient = _upright(torch.stack([torch.zeros(b), yaw, torch.zeros(b)], dim=-1))
    pelvis = torch.tensor([[-0.3, 0.1, 4.0], [0.0, 0.0, 5.0], [0.4, 0.1, 6.0]])
    _, gt = _scene(smpl, pose, torch.zeros(b, 10), orient, pelvis)
    keypoints = torch.cat([_coco_pixels(gt), torch.ones(b, 17, 1)], dim=-1)
    config = SMPLifyConfig(focal_length=FOCAL_PX, principal_point=CENTER_PX, num_iters=40)
    start = _facing_angle_deg(SMPLify(smpl, gmm, config, mean_params=mannequin.mean_params()).mean[
        "global_orient"].expand(b, 3), orient)
    assert (start > 150).all(), "the mean start faces the camera, the walkers face away"

    result = SMPLify(smpl, gmm, config, mean_params=mannequin.mean_params())(keypoints)
    error = _facing_angle_deg(result.global_orient, orient)
    print(f"\nfacing error from behind: {error.tolist()} degrees; starts kept {result.start.tolist()}")
    assert (error < 30).all()
    assert (result.start == 1).all(), "the turned start won"


def test_orientation_from_3d_joints(mannequin_smpl):
    from hmr.smplify.orientation import orientation_from_joints

    b = 5
    yaw = torch.tensor([0.0, 1.0, math.pi, -2.0, 2.8])
    orient = _upright(torch.stack([torch.zeros(b), yaw, torch.zeros(b)], dim=-1))
    with torch.no_grad():
        joints = mannequin_smpl(body_pose=torch.from_numpy(sample_poses(b, seed=2)), global_orient=orient).joint_set(
            "h36m_17")
    found = torch.from_numpy(orientation_from_joints(joints.numpy()))
    assert (_facing_angle_deg(found, orient) < 15).all()
    missing = joints.numpy().copy()
    missing[0, 1] = np.nan
    assert np.isnan(orientation_from_joints(missing)[0]).all() and np.isfinite(orientation_from_joints(missing)[1:]).all()
