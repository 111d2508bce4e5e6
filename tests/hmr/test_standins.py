"""Stand-ins said on screen: hmr run, lift and fit print one line per stand-in they use."""

import numpy as np

from hmr.cli import main
from hmr.core.standins import stand_in_lines
from hmr.pose2d.keypoints_io import Keypoints2D, boxes_from_keypoints, save_keypoints2d
from lifting import DEMO_WEIGHTS


def _keypoints(path):
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(100, 300, (4, 1, 17, 2)), np.full((4, 1, 17, 1), 0.9)], -1).astype(np.float32)
    return save_keypoints2d(path, Keypoints2D(keypoints=kp, boxes=boxes_from_keypoints(kp), valid=np.ones((4, 1), bool),
                                              track_ids=np.array([0]), joint_set="coco_17", image_size=(640, 480),
                                              fps=25.0, frame_indices=np.arange(4)))


def test_stand_in_lines_name_what_to_bring(tmp_path):
    lines = stand_in_lines(body_model="mannequin", lifter_weights=DEMO_WEIGHTS, regressor=False)
    assert len(lines) == 3 and all(line.startswith("stand-in:") for line in lines)
    assert "SMPL_NEUTRAL.pkl" in lines[0] and "pretrained_h36m_detectron_coco.bin" in lines[1]
    assert "model_checkpoint.pt" in lines[2]
    assert stand_in_lines(body_model=tmp_path / "SMPL_NEUTRAL.pkl", regressor=True) == []


def test_lift_fit_and_run_print_their_stand_ins(tmp_path, capsys):
    path = _keypoints(tmp_path / "keypoints2d.npz")
    assert main(["lift", str(path), "--out", str(tmp_path / "lift")]) == 0
    out = capsys.readouterr().out
    assert out.count("stand-in:") == 1 and "synthetic mannequin motion" in out
    assert main(["fit", "--keypoints", str(path), "--out", str(tmp_path / "fit"), "--iterations", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("stand-in:") == 1 and "synthetic mannequin, not SMPL" in out
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--lifter-weights", str(DEMO_WEIGHTS),
                 "--iterations", "1", "--no-meshes", "--no-overlay", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("stand-in:") == 3  # mannequin, synthetic lifter, no HMR
