import json

import numpy as np
import pytest

from hmr.cli import main


def test_demo_runs_the_pipeline_and_scores_it(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "6", "--iterations", "3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    for name in ("keypoints2d.npz", "joints3d.npz", "joints3d.json", "smpl.npz", "overlay.mp4", "run.json",
                 "scores.json", "synthetic/clip.mp4", "synthetic/ground_truth.npz"):
        assert (out / name).is_file(), name
    assert len(list((out / "meshes" / "0").glob("*.obj"))) == 6
    scores = json.loads((out / "scores.json").read_text())
    for key in ("joints3d_mpjpe_mm", "joints3d_pa_mpjpe_mm", "mesh_mpjpe_mm", "mesh_pa_mpjpe_mm", "mesh_pve_mm",
                "hmr_mesh_pa_mpjpe_mm", "mean_start_mesh_pa_mpjpe_mm"):
        assert np.isfinite(scores["scores_mm"][key]) and scores["scores_mm"][key] > 0
    # the shipped demo HRNet on the clip's pixels, the person followed by the tracker
    assert scores["stages"]["keypoints"].startswith("learned (synthetic)")
    assert "tracker" in scores["stages"]["keypoints"] and "DARK decoding" in scores["stages"]["keypoints"]
    assert scores["stages"]["regress"].startswith("learned (synthetic)")  # the shipped demo regressor
    assert "mesh_pa_mpjpe_mm" in printed and "learned (synthetic)" in printed
    for key in ("mean_px_error", "pck_0.05_pct", "detected_pct"):
        assert np.isfinite(scores["keypoints_px"][key]), key
    assert scores["keypoints_px"]["detected_pct"] == 100.0 and scores["keypoints_px"]["mean_px_error"] < 20
    assert "joints3d_mpjpe_mm_on_true_2d" in scores["scores_mm"]
    assert "SMPLify from the mean pose" in printed and "bar:" in printed
    assert (out / "regressor.npz").is_file() and (out / "synthetic" / "fit_from_mean_pose" / "smpl.npz").is_file()
    motion = scores["motion_following"]
    for key in ("knee_range_pct", "knee_r", "elbow_range_pct", "static_pose_mpjpe_mm", "beats_static_by_pct"):
        assert key in motion and np.isfinite(motion[key]), key
    assert motion["static_pose_mpjpe_mm"] > 0 and "beats_static_by_pct" in printed
    with np.load(out / "smpl.npz") as z:
        assert str(z["body_model"]) == "mannequin"
    with np.load(out / "joints3d.npz") as z:  # dropped joints are filled in time, never whole frames lost
        assert z["valid"].all() and np.isfinite(z["joints"]).all()
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "demo" and "scores_mm" in run and run["files"]


def test_demo_scores_later_stages_on_noisy_true_keypoints(tmp_path):
    """--keypoints noisy-truth replaces HRNet by the true 2D with 2 px noise: the keypoints
    score says so (about 2 px of error per visible joint), and HRNet is not run."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "4", "--keypoints", "noisy-truth", "--no-smplify",
                 "--no-meshes", "--no-overlay", "--no-world", "--quiet"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["stages"]["keypoints"].startswith("stand-in: ground-truth 2D")
    assert 1.0 < scores["keypoints_px"]["mean_px_error"] < 4.0 and scores["keypoints_px"]["detected_pct"] < 100
    run = json.loads((out / "run.json").read_text())
    assert "hrnet_weights" not in run["files"] and "no HRNet" in run["compute"]["keypoints"]["note"]


def test_scores_are_zero_for_the_truth_itself(tmp_path, mannequin_smpl):
    """The scoring compares like with like: the ground truth scored against itself is 0."""
    from body_models.sequences import RegressorEstimates
    from hmr.demo import score_outputs
    from hmr.synthetic.clip import make_synthetic_clip

    clip = make_synthetic_clip(tmp_path, num_frames=3, image_size=(96, 64), focal_length=80.0, smpl=mannequin_smpl)
    with np.load(clip.ground_truth) as z:
        gt = dict(z)
    np.savez(tmp_path / "joints3d.npz", joints=gt["joints3d"], valid=gt["valid"])  # hand-made: no version, float64
    parameters = {k: gt[k] for k in ("betas", "body_pose", "global_orient", "transl")}
    np.savez(tmp_path / "smpl.npz", valid=gt["valid"], **parameters)
    bodies = tmp_path / "smpl.npz"
    estimates = RegressorEstimates(valid=gt["valid"], cam=np.zeros_like(gt["transl"]), **parameters)
    scores = score_outputs(clip.ground_truth, {"joints3d": tmp_path / "joints3d.npz", "smpl": bodies,
                                               "regressor": estimates.save(tmp_path / "regressor.npz"),
                                               "smpl_from_mean_pose": bodies})
    assert {"hmr_mesh_pa_mpjpe_mm", "mean_start_mesh_pve_mm", "mesh_mpjpe_mm"} <= set(scores)
    assert all(scores[k] < 0.01 for k in scores if k.endswith("_mm")), scores


def test_errors_are_one_line_with_nonzero_exit(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--motion", "moonwalk", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "moonwalk" in err and "walk" in err
    from body_models.errors import InputError
    from hmr.demo import run_demo

    with pytest.raises(InputError, match="noisy-truth"):  # before anything is rendered
        run_demo(tmp_path / "bad", keypoints="truth")
    assert not (tmp_path / "bad").exists()
    assert main(["convert-model", str(tmp_path / "missing.pkl"), str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.pkl" in err


def test_convert_model_writes_a_clean_npz(tmp_path):
    from body_models import mannequin
    from body_models.model_files import load_model_file

    dst = tmp_path / "model.npz"
    assert main(["convert-model", str(mannequin.model_path()), str(dst)]) == 0
    converted = load_model_file(dst)
    original = load_model_file(mannequin.model_path())
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"):
        np.testing.assert_array_equal(converted[key], original[key])
