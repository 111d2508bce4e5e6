"""Human3.6M adapters: the mesh protocols against an independent computation, the lifter wrapper,
and the one-line errors for missing files, the wrong split and a model that does not fit."""

import numpy as np
import pytest
import torch

from body_models import mannequin
from body_models.errors import InputError, MissingFileError
from body_models.rotations import axis_angle_to_matrix
from hmr.evaluation import h36m_mesh, synthetic
from hmr.evaluation.harness import MeshEvaluator

# SPIN constants.py, written out here so the test does not share the project's joint tables.
H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
J24_TO_J14 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18]


def procrustes_errors(pred, gt):
    """Per-sample PA-MPJPE as SPIN's reconstruction_error writes it (3 × J layout)."""
    out = []
    for p, g in zip(pred, gt):
        x1, x2 = (p - p.mean(0)).T, (g - g.mean(0)).T
        u, _, vt = np.linalg.svd(x1 @ x2.T)
        z = np.eye(3)
        z[2, 2] = np.sign(np.linalg.det(u @ vt))
        r = vt.T @ z @ u.T
        s = np.trace(r @ x1 @ x2.T) / (x1 ** 2).sum()
        aligned = s * r @ p.T + (g.mean(0) - s * r @ p.mean(0))[:, None]
        out.append(np.linalg.norm(aligned.T - g, axis=-1).mean())
    return np.array(out)


def expected_joints(smpl, imgnames):
    """Stand-in predictions → raw SPIN-order regressor joints, H36M_TO_J14 minus row 0 (metres)."""
    params = [synthetic.stand_in_parameters(n) for n in imgnames]
    pose = torch.as_tensor(np.stack([p["pose"] for p in params]), dtype=torch.float32)
    rot = axis_angle_to_matrix(pose.reshape(-1, 24, 3))
    with torch.no_grad():
        verts = smpl(betas=torch.as_tensor(np.stack([p["betas"] for p in params]), dtype=torch.float32),
                     body_pose=rot[:, 1:], global_orient=rot[:, :1]).vertices.double().numpy()
    regressor = np.load(mannequin.j_regressor_h36m_path())  # (17, V) in the file's (SPIN) row order
    joints = np.einsum("jv,bvc->bjc", regressor, verts)
    return joints[:, H36M_TO_J14] - joints[:, :1]


def run_mesh(dataset, smpl, out_dir, **kwargs):
    evaluator = MeshEvaluator(dataset.protocol, synthetic.stand_in_predictor(), smpl, dataset.image_root, out_dir,
                              batch_size=3, progress=False, fingerprint="test", **kwargs)
    return evaluator, evaluator.run(dataset.sequences)


def test_h36m_mesh_protocol1_matches_independent_computation(tmp_path, mannequin_smpl):
    files = synthetic.write_h36m_mesh(tmp_path / "h36m", protocol=1, frames=1, image_size=48, smpl=mannequin_smpl)
    dataset = h36m_mesh.load_dataset(files["npz"])
    _, stored = run_mesh(dataset, mannequin_smpl, tmp_path / "out")
    report = h36m_mesh.score(stored, dataset)

    with np.load(files["npz"]) as npz:
        names, S = [str(n) for n in npz["imgname"]], npz["S"]
    pred = expected_joints(mannequin_smpl, names)
    gt = S[:, J24_TO_J14, :3]
    per_sample = np.linalg.norm(pred - gt, axis=-1).mean(-1) * 1000
    per_sample_pa = procrustes_errors(pred, gt) * 1000
    actions = np.array([n.split("/")[-1].split("_")[1].split(".")[0] for n in names])
    assert set(actions) == {"Directions", "Walking"} and report.benchmark == "h36m-mesh-p1"

    variant = report.variants[0]
    assert variant.overall.samples == len(names) == 16
    np.testing.assert_allclose(variant.overall.values["mpjpe_mm"], per_sample.mean(), rtol=1e-4)
    np.testing.assert_allclose(variant.overall.values["pa_mpjpe_mm"], per_sample_pa.mean(), rtol=1e-4)
    for row in variant.rows:
        np.testing.assert_allclose(row.values["mpjpe_mm"], per_sample[actions == row.name].mean(), rtol=1e-4)
        np.testing.assert_allclose(row.values["pa_mpjpe_mm"], per_sample_pa[actions == row.name].mean(), rtol=1e-4)
    action_mean = np.mean([per_sample[actions == a].mean() for a in ("Directions", "Walking")])
    np.testing.assert_allclose(variant.extra_rows[0].values["mpjpe_mm"], action_mean, rtol=1e-4)
    assert len(variant.per_joint_mm["mpjpe_mm"]) == 14
    np.testing.assert_allclose(variant.per_joint_mm["mpjpe_mm"],
                               np.linalg.norm(pred - gt, axis=-1).mean(0) * 1000, rtol=1e-4)


def test_h36m_mesh_smplify_variant_and_resume(tmp_path, mannequin_smpl):
    from body_models.motion import sample_poses
    from body_models.priors import fit_gmm, save_gmm
    from hmr.evaluation.smplify_setup import smplify_stage

    files = synthetic.write_h36m_mesh(tmp_path / "h36m", protocol=2, subjects=("S9",), frames=1, image_size=48,
                                      smpl=mannequin_smpl)
    dataset = h36m_mesh.load_dataset(files["npz"])
    with np.load(files["npz"]) as npz:
        names = [str(n) for n in npz["imgname"]]
    keypoints = synthetic.write_smplify_keypoints(tmp_path / "kp.npz", names, files["coco_pixels"])
    # A small prior in gmm_08.pkl layout (the mannequin's own takes a minute to fit).
    gmm = save_gmm(tmp_path / "gmm_08.pkl", fit_gmm(sample_poses(200, seed=0), n_components=2, max_iter=5))
    stage, _ = smplify_stage(mannequin_smpl, "mannequin", keypoints, gmm, 2)
    evaluator, stored = run_mesh(dataset, mannequin_smpl, tmp_path / "out", smplify=stage)
    report = h36m_mesh.score(stored, dataset)
    assert [v.name for v in report.variants] == ["regressor", "smplify"]
    regressor, fitted = report.variants
    assert np.isfinite(fitted.overall.values["mpjpe_mm"])
    np.testing.assert_allclose(regressor.overall.values["mpjpe_mm"],
                               np.linalg.norm(expected_joints(mannequin_smpl, names)
                                              - np.concatenate([s.gt_joints for s in stored]), axis=-1).mean() * 1000,
                               rtol=1e-4)
    assert len(evaluator.computed) == 2

    again, stored_again = run_mesh(dataset, mannequin_smpl, tmp_path / "out", smplify=stage)
    assert again.computed == [] and again.reused == evaluator.computed
    np.testing.assert_array_equal(stored_again[0].pred_joints["smplify"], stored[0].pred_joints["smplify"])


def test_h36m_mesh_errors(tmp_path):
    with pytest.raises(MissingFileError, match="h36m_valid_protocol1.npz"):
        h36m_mesh.load_dataset(tmp_path / "h36m_valid_protocol1.npz")
    files = synthetic.write_h36m_mesh(tmp_path / "p1", protocol=1, subjects=("S9",), actions=("Walking",),
                                      frames=1, image_size=32)
    with pytest.raises(InputError, match="protocol 2 uses only camera 60457274"):
        h36m_mesh.load_dataset(files["npz"], protocol=2)
    train = synthetic.write_h36m_mesh(tmp_path / "train", protocol=1, subjects=("S1",), actions=("Walking",),
                                      frames=1, image_size=32)
    with pytest.raises(InputError, match="wrong split"):
        h36m_mesh.load_dataset(train["npz"])


def test_h36m_lifter_wrapper_and_joint_mismatch(tmp_path):
    from lifting import load_pretrained
    from lifting.evaluate import evaluate_h36m_files
    from lifting.synthetic import make_synthetic_h36m
    from hmr.evaluation.h36m_lifter import evaluate_lifter

    data = make_synthetic_h36m(tmp_path / "data", frames=12, subjects=("S9", "S11"),
                               actions={"Walking": "walk", "Sitting": "squat"}, takes=2)
    checkpoint = synthetic.write_videopose3d_checkpoint(tmp_path / "vp3d.bin", filter_widths=(3,), channels=16)
    report = evaluate_lifter(data["3d"], data["2d"], checkpoint)
    direct = evaluate_h36m_files(load_pretrained(checkpoint), data["3d"], data["2d"])
    rows = {row.name: row for row in report.variants[0].rows}
    for action in direct.actions:
        for metric in ("mpjpe_mm", "pa_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm"):
            assert rows[action.action].values[metric] == pytest.approx(getattr(action, metric))
    # The reported average is the unweighted mean of the action rows.
    assert report.variants[0].overall.values["mpjpe_mm"] == pytest.approx(
        np.mean([a.mpjpe_mm for a in direct.actions]))

    humaneva = synthetic.write_videopose3d_checkpoint(tmp_path / "he.bin", filter_widths=(3,), channels=16,
                                                      num_joints_out=15)
    with pytest.raises(InputError, match="predicts 15 joints"):
        evaluate_lifter(data["3d"], data["2d"], humaneva)
    with pytest.raises(MissingFileError, match="data_3d_h36m.npz"):
        evaluate_lifter(tmp_path / "missing.npz", data["2d"], checkpoint)
