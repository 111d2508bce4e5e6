"""The pose-prior tool: ``hmr fit-prior`` / ``priors.fit_prior_from_mocap`` (mocap npz → gmm_08.pkl)."""

import pickle

import numpy as np
import pytest

from body_models.motion import sample_poses
from body_models.priors import fit_gmm, fit_prior_from_mocap, load_gmm
from hmr.cli import main

N = 300


@pytest.fixture(scope="module")
def body_poses() -> np.ndarray:
    return sample_poses(N, seed=2).astype(np.float64)  # (N, 69) radians


def test_cli_fits_a_prior_load_gmm_reads(body_poses, tmp_path, capsys):
    rng = np.random.default_rng(0)
    poses = np.concatenate([rng.uniform(-3, 3, (N, 3)), body_poses], axis=1)  # (N, 72): orientation first
    np.savez(tmp_path / "mocap.npz", poses=poses, gender=np.array("neutral"))
    out = tmp_path / "gmm_04.pkl"
    assert main(["fit-prior", "--poses", str(tmp_path / "mocap.npz"), "--out", str(out),
                 "--components", "4"]) == 0
    assert f"to {N} poses" in capsys.readouterr().out
    gmm = load_gmm(out)
    assert gmm.num_components == 4 and gmm.dim == 69
    # The global orientation is dropped: the same mixture as fitting the body poses directly.
    direct = fit_gmm(body_poses, n_components=4, seed=0)
    np.testing.assert_allclose(gmm.means, direct.means, atol=1e-8)
    np.testing.assert_allclose(gmm.weights, direct.weights, atol=1e-8)
    # SMPLify-X and SPIN read the file with plain pickle.
    with open(out, "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    assert sorted(raw) == ["covars", "means", "weights"] and raw["covars"].shape == (4, 69, 69)


def test_body_pose_and_amass_layouts(body_poses, tmp_path):
    np.savez(tmp_path / "body.npz", body_pose=body_poses.reshape(N, 23, 3))
    made = fit_prior_from_mocap(tmp_path / "body.npz", tmp_path / "a.pkl", n_components=2)
    assert made.num_poses == N and "body_pose" in made.pose_layout
    np.testing.assert_allclose(made.gmm.means, fit_gmm(body_poses, n_components=2).means, atol=1e-8)

    amass = np.zeros((N, 156))
    amass[:, 3:66] = body_poses[:, :63]  # SMPL+H: 21 body joints, then fingers
    amass[:, 66:] = 0.5  # finger joints are not SMPL joints
    amass[5] = np.nan  # a broken frame is dropped
    np.savez(tmp_path / "amass.npz", poses=amass)
    made = fit_prior_from_mocap(tmp_path / "amass.npz", tmp_path / "b.pkl", n_components=2)
    assert made.num_poses == N - 1 and "SMPL+H" in made.pose_layout
    assert np.abs(made.gmm.means[:, 63:]).max() < 1e-9  # SMPL's hand joints are zero
    assert load_gmm(made.path).num_components == 2


def test_bad_pose_files_are_one_line_errors(tmp_path, capsys):
    np.savez(tmp_path / "wide.npz", poses=np.zeros((50, 70)))
    np.savez(tmp_path / "other.npz", trans=np.zeros((50, 3)))
    np.savez(tmp_path / "few.npz", body_pose=np.zeros((5, 69)))
    np.savez(tmp_path / "objects.npz", poses=np.array([{"a": 1}], dtype=object))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    cases = {"missing.npz": "not found", "wide.npz": "(50, 70)", "other.npz": "'poses'",
             "few.npz": "too few", "objects.npz": "objects.npz", "junk.npz": "junk.npz"}
    for name, needle in cases.items():
        out = tmp_path / "gmm.pkl"
        assert main(["fit-prior", "--poses", str(tmp_path / name), "--out", str(out)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("hmr fit-prior: error:") and err.count("\n") == 0 and needle in err, (name, err)
        assert not out.exists()
