"""3DPW adapter: official pickles and SPIN's npz against an independent computation of MPJPE,
PA-MPJPE, PVE (gendered GT, pelvis-centred) and acceleration; split and missing-file errors."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from body_models import mannequin
from body_models.atomic import save_npz
from body_models.errors import InputError, MissingFileError
from body_models.safe_pickle import load_pickle
from hmr.evaluation import pw3d, synthetic
from hmr.evaluation.harness import MeshEvaluator

H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # SPIN constants.py


def regress(smpl, pose, betas):
    """(N, 72) axis-angle, (N, 10) → (N, 17, 3) SPIN-order regressor joints and (N, V, 3) vertices."""
    with torch.no_grad():
        out = smpl(betas=torch.as_tensor(betas, dtype=torch.float32), body_pose=torch.as_tensor(pose[:, 3:], dtype=torch.float32),
                   global_orient=torch.as_tensor(pose[:, :3], dtype=torch.float32))
    verts = out.vertices.double().numpy()
    return np.einsum("jv,bvc->bjc", np.load(mannequin.j_regressor_h36m_path()), verts), verts


def pa_errors(pred, gt):
    out = []
    for p, g in zip(pred, gt):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        u, s, vt = np.linalg.svd(p0.T @ g0)
        d = np.sign(np.linalg.det(vt.T @ u.T))
        r = vt.T @ np.diag([1, 1, d]) @ u.T
        scale = (s * [1, 1, d]).sum() / (p0 ** 2).sum()
        out.append(np.linalg.norm(scale * p0 @ r.T + g.mean(0) - g, axis=-1).mean())
    return np.array(out)


def expected(root, smpl):
    """Independent 3DPW numbers for the stand-in predictions, per actor and pooled (mm)."""
    per_seq, all_err, all_pa, all_pve, all_acc = {}, [], [], [], []
    for path in sorted((root / "sequenceFiles" / "test").glob("*.pkl")):
        rec = load_pickle(path)
        name = rec["sequence"]
        for actor in range(len(rec["poses"])):
            frames = np.flatnonzero(np.asarray(rec["campose_valid"][actor]).astype(bool))
            pose = np.array(rec["poses"][actor])[frames]
            cam = rec["cam_poses"][frames, :3, :3]
            pose[:, :3] = (Rotation.from_matrix(cam) * Rotation.from_rotvec(pose[:, :3])).as_rotvec()
            betas = np.tile(np.asarray(rec["betas"][actor])[:10], (len(frames), 1))
            gt_j, gt_v = regress(smpl, pose, betas)  # the mannequin stands in for both genders
            names = [f"imageFiles/{name}/image_{f:05d}.jpg" for f in frames]
            params = [synthetic.stand_in_parameters(n) for n in names]
            pr_j, pr_v = regress(smpl, np.stack([p["pose"] for p in params]), np.stack([p["betas"] for p in params]))
            gt14, pr14 = gt_j[:, H36M_TO_J14] - gt_j[:, :1], pr_j[:, H36M_TO_J14] - pr_j[:, :1]
            err = np.linalg.norm(pr14 - gt14, axis=-1).mean(-1)
            pve = np.linalg.norm((pr_v - pr_j[:, :1]) - (gt_v - gt_j[:, :1]), axis=-1).mean(-1)
            acc = [np.linalg.norm((pr14[i - 1] - 2 * pr14[i] + pr14[i + 1]) - (gt14[i - 1] - 2 * gt14[i] + gt14[i + 1]),
                                  axis=-1).mean()
                   for i in range(1, len(frames) - 1) if frames[i - 1] + 1 == frames[i] == frames[i + 1] - 1]
            per_seq.setdefault(name, []).append(err)
            all_err.append(err)
            all_pa.append(pa_errors(pr14, gt14))
            all_pve.append(pve)
            all_acc += acc
    return ({k: np.concatenate(v).mean() * 1000 for k, v in per_seq.items()},
            {"mpjpe_mm": np.concatenate(all_err).mean() * 1000, "pa_mpjpe_mm": np.concatenate(all_pa).mean() * 1000,
             "pve_mm": np.concatenate(all_pve).mean() * 1000, "accel_mm": np.mean(all_acc) * 1000})


def run(dataset, smpl, out_dir):
    evaluator = MeshEvaluator(dataset.protocol, synthetic.stand_in_predictor(), smpl, dataset.image_root, out_dir,
                              batch_size=4, progress=False, gt_bodies={"male": smpl, "female": smpl})
    return pw3d.score(evaluator.run(dataset.sequences), dataset)


def test_official_pickles_match_independent_computation(tmp_path, mannequin_smpl):
    files = synthetic.write_3dpw(tmp_path / "3dpw", frames=5, image_size=(40, 48), smpl=mannequin_smpl)
    dataset = pw3d.load_dataset(files["root"])
    assert {s.gender for s in dataset.sequences} == {"male", "female"}
    report = run(dataset, mannequin_smpl, tmp_path / "out")
    per_seq, overall = expected(files["root"], mannequin_smpl)
    variant = report.variants[0]
    assert variant.overall.samples == 4 + 5 + 4  # actor 0 of each sequence misses its invalid frame
    for metric, value in overall.items():
        np.testing.assert_allclose(variant.overall.values[metric], value, rtol=1e-4, err_msg=metric)
    for row in variant.rows:
        np.testing.assert_allclose(row.values["mpjpe_mm"], per_seq[row.name], rtol=1e-4)

    # SPIN's 3dpw_test.npz with the same frames gives the same numbers.
    rows = {k: [] for k in ("imgname", "center", "scale", "pose", "shape", "gender")}
    for seq in dataset.sequences:
        rows["imgname"] += list(seq.imgnames)
        rows["center"].append(seq.center)
        rows["scale"].append(seq.scale)
        rows["pose"].append(seq.gt_pose)
        rows["shape"].append(seq.gt_betas)
        rows["gender"] += [seq.gender[0]] * len(seq)
    npz = save_npz(tmp_path / "3dpw" / "3dpw_test.npz", imgname=np.array(rows["imgname"]),
                   center=np.concatenate(rows["center"]), scale=np.concatenate(rows["scale"]),
                   pose=np.concatenate(rows["pose"]), shape=np.concatenate(rows["shape"]), gender=np.array(rows["gender"]))
    from_npz = run(pw3d.load_dataset(npz), mannequin_smpl, tmp_path / "out_npz").variants[0]
    for metric, value in overall.items():
        np.testing.assert_allclose(from_npz.overall.values[metric], value, rtol=1e-4, err_msg=metric)


def test_split_and_missing_files(tmp_path):
    with pytest.raises(MissingFileError, match="sequenceFiles/test"):
        pw3d.load_dataset(tmp_path / "nowhere")
    train = synthetic.write_3dpw(tmp_path / "3dpw", sequences=(("outdoors_climbing_00", 1),), frames=2,
                                 image_size=(32, 32), split="train")
    with pytest.raises(InputError, match="train split"):
        pw3d.load_dataset(train["folder"])
    with pytest.raises(InputError, match="test split"):
        pw3d.load_dataset(train["root"])
    with pytest.raises(InputError, match="not the 3DPW test split"):
        pw3d.load_dataset(tmp_path / "3dpw_train.npz")
