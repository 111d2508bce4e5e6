"""World frame for a static camera: ground plane, contacts, refinement, WHAM-style scores."""

import numpy as np
import pytest
import torch

from body_models.atomic import save_npz
from hmr.world import metrics

T = 24
ELEVATION, AZIMUTH = 15.0, 25.0


def _clip(tmp_path, smpl, motion, noise=0.0):
    from hmr.synthetic.clip import _view_rotation, pose_in_camera

    params = pose_in_camera(smpl, motion, T, 25.0, 0, 5.0, ELEVATION, AZIMUTH)
    with torch.no_grad():
        truth = smpl(**params).joints.double().numpy()
    arrays = {k: v.numpy()[:, None].astype(np.float64) for k, v in params.items()}
    arrays["transl"] += np.random.default_rng(1).normal(0, noise, arrays["transl"].shape) * [0.3, 0.3, 1.0]
    path = save_npz(tmp_path / f"smpl_{motion}.npz", valid=np.ones((T, 1), bool), fps=np.float64(25.0),
                    track_ids=np.array([0]), body_model=np.array("mannequin"),
                    **{k: v.astype(np.float32) for k, v in arrays.items()})
    up = _view_rotation(ELEVATION, AZIMUTH).double().numpy() @ [0.0, 1.0, 0.0]  # body up in the camera frame
    return path, truth, up


def test_world_frame_stands_on_the_fitted_floor(tmp_path, mannequin_smpl):
    from hmr.world.world import make_world

    for motion in ("idle", "walk"):
        path, truth, up = _clip(tmp_path, mannequin_smpl, motion)
        world = dict(np.load(make_world(path, mannequin_smpl, tmp_path / f"world_{motion}.npz")))
        normal = world["ground_plane"][:3]
        assert np.degrees(np.arccos(normal @ up)) < 2.0, motion  # the true floor's normal
        assert np.allclose(world["camera_rotation"] @ up, [0, 1, 0], atol=0.04)
        joints = world["joints"][:, 0]
        assert np.abs(joints[0, 0, [0, 2]]).max() < 1e-4  # origin under the first pelvis
        feet = joints[:, [10, 11], 1]
        assert 0.0 < feet.min() < 0.06  # the foot joints stand just above the floor
        assert world["camera_position"][1] > 1.0  # the camera looks down from above
        # rigid: the world joints are the camera joints moved by the camera pose
        back = (joints - world["camera_position"]) @ world["camera_rotation"]
        assert np.abs(back - truth).max() < 1e-4
        contacts = world["contacts"][:, 0]
        assert contacts.any(0).all() and (motion != "walk" or not contacts.all(0).any())


def test_contact_refinement_removes_sliding_of_planted_feet(tmp_path, mannequin_smpl):
    from hmr.world.world import make_world

    path, truth, _ = _clip(tmp_path, mannequin_smpl, "idle", noise=0.03)
    world = dict(np.load(make_world(path, mannequin_smpl, tmp_path / "world.npz", refine=True)))
    assert bool(world["refined"]) and np.allclose(world["joints"], world["joints_refined"])
    before, after = world["joints_unrefined"][:, 0], world["joints_refined"][:, 0]
    assert metrics.foot_skating(after, truth) < 0.9 * metrics.foot_skating(before, truth)
    assert metrics.jitter(after) < metrics.jitter(before)


def test_metrics_on_known_transforms():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 1, (8, 24, 3)) + np.linspace(0, 2, 8)[:, None, None]
    from scipy.spatial.transform import Rotation

    r = Rotation.from_rotvec([0.3, -0.5, 0.2]).as_matrix()
    moved = truth @ r.T + [1.0, 2.0, 3.0]
    assert metrics.w_mpjpe(moved, truth) < 1e-6 and metrics.wa_mpjpe(2.0 * moved, truth) < 1e-6
    assert metrics.w_mpjpe(2.0 * moved, truth) > 100.0  # W-MPJPE does not rescale
    assert metrics.rte(moved[:, 0], truth[:, 0]) < 1e-6
    line = np.linspace(0, 1, 10)[:, None, None] * np.ones((10, 2, 3))
    assert metrics.jitter(line) < 1e-9 and metrics.jitter(line ** 3) > 0
    planted = np.zeros((5, 24, 3))
    sliding = planted.copy()
    sliding[:, 10, 0] = np.arange(5) * 0.002  # 2 mm per frame
    assert metrics.foot_skating(sliding, planted) == pytest.approx(0.5, abs=1e-6)  # 1 of 4 feet slides 2 mm


def test_exports_use_the_world_frame_when_there_is_one(tmp_path, mannequin_smpl):
    from hmr.io.motion import load_motion
    from hmr.world.world import make_world

    path, truth, _ = _clip(tmp_path, mannequin_smpl, "idle")
    run = tmp_path / "run"
    run.mkdir()
    (run / "smpl.npz").write_bytes(path.read_bytes())
    world = dict(np.load(make_world(run / "smpl.npz", mannequin_smpl, run / "world.npz")))
    motion = load_motion(run)
    assert motion.frame == "world" and "world frame" in motion.to_up("y", mannequin_smpl).frame_description
    joints = motion.to_up("y", mannequin_smpl).smpl_output(mannequin_smpl).joints.numpy()
    assert np.abs(joints - world["joints"][:, 0]).max() < 1e-3


def test_demo_world_scores_are_zero_for_the_truth_itself(tmp_path, mannequin_smpl):
    from hmr.demo import score_outputs
    from hmr.world.world import make_world

    path, truth, _ = _clip(tmp_path, mannequin_smpl, "idle")
    with np.load(path) as z:
        fit = dict(z)
    gt = save_npz(tmp_path / "gt.npz", joints=truth[:, None], **{k: fit[k] for k in (
        "valid", "betas", "body_pose", "global_orient", "transl", "fps")})
    world = make_world(path, mannequin_smpl, tmp_path / "world.npz")
    scores = score_outputs(gt, {"smpl": path, "world": world})
    for key in ("root_transl_error_mm", "world_w_mpjpe_mm_unrefined", "world_wa_mpjpe_mm_unrefined",
                "world_root_traj_error_mm_unrefined", "world_rte_percent_unrefined"):
        assert scores[key] < 0.5, (key, scores[key])
    assert "world_foot_skating_mm_refined" in scores and "world_jitter_mm_refined" in scores
