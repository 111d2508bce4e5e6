"""The lifter's CLI: hmr lift, hmr train-lifter, hmr make-synthetic-h36m, and their one-line errors."""

import json

import numpy as np
import pytest
import torch

from body_models.atomic import save_npz
from body_models.joints import H36M_17
from hmr.cli import main
from lifting import TemporalModel, save_checkpoint
from lifting.data import keypoints2d_from_custom


@pytest.fixture()
def weights(tmp_path):
    torch.manual_seed(0)
    model = TemporalModel(17, 2, 17, (3, 3), channels=16).eval()
    traj = TemporalModel(17, 2, 1, (3, 3), channels=16).eval()
    return save_checkpoint(tmp_path / "lifter.pt", model, traj)


def _keypoints_file(path, frames=12, joint_names=None, people=1):
    rng = np.random.default_rng(0)
    pixels = rng.uniform(100, 500, size=(frames, 17, 2)).astype(np.float32)
    arrays = keypoints2d_from_custom(pixels, (640, 480), fps=30.0)
    if people > 1:
        for key in ("keypoints", "boxes", "valid"):
            arrays[key] = np.repeat(arrays[key], people, axis=1)
        arrays["track_ids"] = np.arange(people)
    if joint_names is not None:
        arrays["joint_names"] = np.array(joint_names)
    return save_npz(path, **arrays), arrays


def test_lift_writes_joints3d_in_the_documented_schema(tmp_path, weights, capsys):
    path, arrays = _keypoints_file(tmp_path / "keypoints2d.npz", people=2)
    arrays["valid"][4, 1] = False  # person 1 missing in frame 4
    arrays["keypoints"][4, 1] = np.nan
    save_npz(path, **arrays)
    assert main(["lift", str(path), "--weights", str(weights), "--out", str(tmp_path / "out")]) == 0
    assert "joints3d.npz" in capsys.readouterr().out
    out = np.load(tmp_path / "out" / "joints3d.npz", allow_pickle=False)
    assert out["joints"].shape == (12, 2, 17, 3) and out["trajectory"].shape == (12, 2, 3)
    assert int(out["schema_version"]) == 1 and float(out["fps"]) == 30.0
    assert out["joint_names"].tolist() == list(H36M_17.names) and out["parents"].tolist() == list(H36M_17.parents)
    assert out["valid"].sum() == 23 and not out["valid"][4, 1]
    assert np.isnan(out["joints"][4, 1]).all() and np.isfinite(out["joints"][out["valid"]]).all()
    np.testing.assert_array_equal(out["joints"][:, 0, 0], 0)  # root-relative
    record = json.loads((tmp_path / "out" / "joints3d.json").read_text())
    assert record["joint_names"] == list(H36M_17.names) and record["joints"][4][1][0] == [None] * 3
    np.testing.assert_allclose(np.array(record["joints"][0][0]), out["joints"][0, 0], atol=1e-6)


def test_lift_errors_are_one_line(tmp_path, weights, capsys):
    out = str(tmp_path / "out")
    from body_models.joints import JOINT_SETS

    wrong_layout, _ = _keypoints_file(tmp_path / "3dhp.npz", joint_names=JOINT_SETS["mpi_inf_3dhp_17"].names)
    assert main(["lift", str(wrong_layout), "--weights", str(weights), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "neither COCO-17 nor H36M-17" in err and err.count("\n") == 1
    unknown, _ = _keypoints_file(tmp_path / "unknown.npz", joint_names=[f"j{i}" for i in range(17)])
    assert main(["lift", str(unknown), "--weights", str(weights), "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"{unknown}: its joint_names match no known joint set" in err and err.count("\n") == 1

    path, arrays = _keypoints_file(tmp_path / "nan.npz")
    arrays["keypoints"][:] = np.nan
    arrays["valid"][:] = False
    save_npz(path, **arrays)
    assert main(["lift", str(path), "--weights", str(weights), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "no person has keypoints" in err and err.count("\n") == 1

    torch.manual_seed(0)
    other = save_checkpoint(tmp_path / "other.pt", TemporalModel(15, 2, 17, (3,), channels=8))
    path, _ = _keypoints_file(tmp_path / "ok.npz")
    assert main(["lift", str(path), "--weights", str(other), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "takes 15 joints" in err and err.count("\n") == 1

    bad = tmp_path / "bad.npz"
    np.savez(bad, keypoints=np.zeros((3, 17, 3)), image_size=np.array([640, 480]))
    assert main(["lift", str(bad), "--weights", str(weights), "--out", out]) == 2
    assert f"{bad} lacks boxes, valid" in capsys.readouterr().err  # the one keypoints2d.npz loader's check
    flat, arrays = _keypoints_file(tmp_path / "flat.npz")
    save_npz(flat, **{**arrays, "keypoints": arrays["keypoints"][:, 0]})
    assert main(["lift", str(flat), "--weights", str(weights), "--out", out]) == 2
    assert "(T, P, J, 3)" in capsys.readouterr().err

    assert main(["lift", str(tmp_path / "absent.npz"), "--weights", str(weights), "--out", out]) == 2
    assert "not found" in capsys.readouterr().err


def test_make_synthetic_then_train_and_resume(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["make-synthetic-h36m", "--out", str(data), "--frames", "12", "--takes", "1", "--subjects", "S1,S9",
                 "--keypoints", "coco"]) == 0
    recipe = tmp_path / "train.yaml"
    recipe.write_text(
        f"data_3d: {data / 'data_3d_h36m.npz'}\ndata_2d: {data / 'data_2d_h36m_synthetic_coco.npz'}\n"
        "model: {filter_widths: [3], channels: 16}\nsubjects_train: [S1]\nsubjects_test: [S9]\n"
        "actions: [Walking]\nepochs: 1\nbatch_size: 32\ncheckpoint_frequency: 1\n")
    run = tmp_path / "run"
    assert main(["train-lifter", "--config", str(recipe), "--out", str(run), "--quiet", "--device", "cpu"]) == 0
    assert "validation MPJPE" in capsys.readouterr().out and (run / "final.pt").is_file()
    recipe.write_text(recipe.read_text().replace("epochs: 1", "epochs: 2"))
    assert main(["train-lifter", "--config", str(recipe), "--out", str(run), "--resume", "--quiet"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert len((run / "log.csv").read_text().splitlines()) == 3

    recipe.write_text(recipe.read_text() + "epochz: 3\n")
    assert main(["train-lifter", "--config", str(recipe), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "unknown TrainConfig key 'epochz'" in err and err.count("\n") == 1
