"""MPI-INF-3DHP adapter: the v7.3 annot_data.mat read with h5py, SPIN's frame selection and joints,
PCK/AUC/MPJPE per activity against an independent computation; split and file errors."""

import h5py
import numpy as np
import pytest
import torch

from body_models import mannequin
from body_models.errors import InputError, MissingFileError
from body_models.rotations import axis_angle_to_matrix
from hmr.evaluation import mpi_inf_3dhp, synthetic
from hmr.evaluation.harness import MeshEvaluator

# SPIN: datasets/preprocess/mpi_inf_3dhp.py and constants.py, written out independently here.
JOINTS17_IDX = [14, 11, 12, 13, 8, 9, 10, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]
JOINTS_IDX = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]
J24_TO_J17 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17]
H36M_TO_J17 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9]


def independent(test_set, smpl, size):
    """(pred, gt, activity, sequence) over SPIN's frames, metres, J17 order."""
    preds, gts, acts, seqs = [], [], [], []
    regressor = np.load(mannequin.j_regressor_h36m_path())
    for k in range(1, 7):
        with h5py.File(test_set / f"TS{k}" / "annot_data.mat", "r") as f:
            annot2, annot3 = np.array(f["annot2"]), np.array(f["univ_annot3"])
            valid, activity = np.array(f["valid_frame"]), np.array(f["activity_annotation"])
        for i, v in enumerate(valid):
            if v == 0:
                continue
            joints = annot2[i, 0, JOINTS17_IDX]
            if not ((joints[:, 0] >= 0) & (joints[:, 0] < size) & (joints[:, 1] >= 0) & (joints[:, 1] < size)).all():
                continue
            s17 = annot3[i, 0, JOINTS17_IDX] / 1000
            s24 = np.zeros((24, 3))
            s24[JOINTS_IDX] = s17 - s17[0]
            gts.append(s24[J24_TO_J17])
            p = synthetic.stand_in_parameters(f"TS{k}/imageSequence/img_{i + 1:06d}.jpg")
            rot = axis_angle_to_matrix(torch.as_tensor(p["pose"], dtype=torch.float32).reshape(1, 24, 3))
            with torch.no_grad():
                verts = smpl(betas=torch.as_tensor(p["betas"][None], dtype=torch.float32), body_pose=rot[:, 1:],
                             global_orient=rot[:, :1]).vertices[0].double().numpy()
            j = regressor @ verts
            preds.append(j[H36M_TO_J17] - j[0])
            acts.append(int(activity[i, 0]))
            seqs.append(f"TS{k}")
    return np.array(preds), np.array(gts), np.array(acts), np.array(seqs)


def pck_auc_mpjpe(pred, gt):
    err = np.linalg.norm(pred - gt, axis=-1).ravel() * 1000  # mm
    curve = [np.mean(err < t) * 100 for t in range(0, 151, 5)]
    return np.mean(err < 150) * 100, np.mean(curve), err.mean()


def test_matches_independent_computation(tmp_path, mannequin_smpl):
    files = synthetic.write_3dhp(tmp_path / "3dhp", frames=4, image_size=(40, 40), smpl=mannequin_smpl)
    dataset = mpi_inf_3dhp.load_dataset(files["root"])
    evaluator = MeshEvaluator(dataset.protocol, synthetic.stand_in_predictor(), mannequin_smpl, dataset.image_root,
                              tmp_path / "out", batch_size=4, progress=False)
    report = mpi_inf_3dhp.score(evaluator.run(dataset.sequences), dataset)
    pred, gt, acts, seqs = independent(files["test_set"], mannequin_smpl, 40)
    assert len(gt) == 12  # 4 frames per TS: one not valid, one with a joint outside the image
    variant = report.variants[0]
    pck, auc, err = pck_auc_mpjpe(pred, gt)
    assert variant.overall.samples == 12
    assert variant.overall.values["pck"] == pytest.approx(pck)
    assert variant.overall.values["auc"] == pytest.approx(auc)
    assert variant.overall.values["mpjpe_mm"] == pytest.approx(err, rel=1e-4)
    names = {code: name for code, name in mpi_inf_3dhp.ACTIVITIES.items()}
    assert [row.name for row in variant.rows] == [names[c] for c in sorted(set(acts))]
    for row in variant.rows:
        code = next(c for c, n in names.items() if n == row.name)
        pck, auc, err = pck_auc_mpjpe(pred[acts == code], gt[acts == code])
        assert (row.samples, row.values["pck"], row.values["auc"]) == (np.sum(acts == code), pytest.approx(pck),
                                                                       pytest.approx(auc))
        assert row.values["mpjpe_mm"] == pytest.approx(err, rel=1e-4)
    for row in variant.extra_rows:
        assert row.values["mpjpe_mm"] == pytest.approx(pck_auc_mpjpe(pred[seqs == row.name], gt[seqs == row.name])[2],
                                                       rel=1e-4)
    assert 0 <= variant.overall.values["pa_pck"] <= 100 and variant.overall.values["pa_mpjpe_mm"] < err


def test_split_and_file_errors(tmp_path):
    with pytest.raises(MissingFileError, match="mpi_inf_3dhp_test_set/TS1..TS6"):
        mpi_inf_3dhp.load_dataset(tmp_path)
    (tmp_path / "train" / "S1" / "Seq1").mkdir(parents=True)
    with pytest.raises(InputError, match="training set"):
        mpi_inf_3dhp.load_dataset(tmp_path / "train")
    folder = tmp_path / "mpi_inf_3dhp_test_set" / "TS1"
    folder.mkdir(parents=True)
    (folder / "annot_data.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(InputError, match="not a MATLAB v7.3"):
        mpi_inf_3dhp.load_dataset(tmp_path)
    with h5py.File(folder / "annot_data.mat", "w") as f:
        f.create_dataset("annot2", data=np.zeros((2, 1, 17, 2)))
    with pytest.raises(InputError, match="no valid_frame"):
        mpi_inf_3dhp.load_dataset(tmp_path)
