"""GMM pose prior: EM fitting, the gmm_08.pkl layout, and the max-mixture score."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from body_models.errors import InputError, MissingFileError, UnsafeFileError
from body_models.motion import sample_poses
from body_models.priors import GMMPrior, MaxMixturePrior, fit_gmm, load_gmm, save_gmm


def random_gmm(k: int = 8, d: int = 69, seed: int = 0) -> GMMPrior:
    """A well-conditioned random mixture."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, d, d)) * 0.05
    covars = a @ a.transpose(0, 2, 1) + np.eye(d) * rng.uniform(0.01, 0.05, size=(k, 1, 1))
    return GMMPrior(0.3 * rng.standard_normal((k, d)), covars, rng.dirichlet(np.ones(k)))


def reference_prior(gmm: GMMPrior, poses: np.ndarray) -> np.ndarray:
    """FORMATS.md §3.11 in float64, written out directly."""
    d = gmm.dim
    sqrt_dets = np.sqrt(np.linalg.det(gmm.covars))
    nll_weights = gmm.weights / ((2 * np.pi) ** (d / 2) * sqrt_dets / sqrt_dets.min())
    scores = []
    for mean, cov, w in zip(gmm.means, gmm.covars, nll_weights):
        diff = poses - mean
        scores.append(0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff) - np.log(w))
    return np.min(scores, axis=0)


# --- fitting ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def known_mixture():
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 1.0], [0.0, -3.0, 2.0]])
    covars = np.array([np.diag([0.3, 0.5, 0.2]), [[0.6, 0.3, 0.0], [0.3, 0.4, 0.0], [0.0, 0.0, 0.2]],
                       np.diag([0.2, 0.2, 0.7])])
    weights = np.array([0.5, 0.3, 0.2])
    labels = rng.choice(3, size=4000, p=weights)
    x = np.stack([rng.multivariate_normal(means[c], covars[c]) for c in labels])
    return means, covars, weights, x


def test_fit_recovers_a_known_mixture(known_mixture):
    means, covars, weights, x = known_mixture
    gmm = fit_gmm(x, n_components=3, seed=0, reg_covar=1e-6)
    assert gmm.means.shape == (3, 3) and gmm.covars.shape == (3, 3, 3) and gmm.weights.shape == (3,)
    match = [int(np.argmin(np.linalg.norm(gmm.means - m, axis=1))) for m in means]
    assert sorted(match) == [0, 1, 2]
    np.testing.assert_allclose(gmm.means[match], means, atol=0.1)
    np.testing.assert_allclose(gmm.weights[match], weights, atol=0.03)
    np.testing.assert_allclose(gmm.covars[match], covars, atol=0.08)
    assert np.isclose(gmm.weights.sum(), 1.0)
    assert (np.diff(gmm.weights) <= 0).all()  # sorted by weight


def test_fit_is_deterministic(known_mixture):
    x = known_mixture[3][:1000]
    a, b = fit_gmm(x, 3, seed=5), fit_gmm(x, 3, seed=5)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.covars, b.covars)


def test_fit_rejects_bad_input():
    with pytest.raises(InputError, match=r"\(N, D\)"):
        fit_gmm(np.zeros(10))
    with pytest.raises(InputError, match="n_components"):
        fit_gmm(np.zeros((3, 2)), n_components=8)
    with pytest.raises(InputError, match="NaN"):
        fit_gmm(np.full((20, 2), np.nan), n_components=2)


def test_fit_on_duplicates_stays_finite():
    x = np.repeat(np.eye(4), 10, axis=0)  # 4 distinct points, asked for 6 components
    gmm = fit_gmm(x, n_components=6, seed=0)
    assert np.isfinite(gmm.covars).all() and (gmm.weights > 0).all()


def test_gmm_prior_validates_and_is_read_only():
    gmm = random_gmm(2, 3)
    assert gmm.means.dtype == np.float64 and not gmm.means.flags.writeable
    with pytest.raises(InputError, match="covars"):
        GMMPrior(gmm.means, gmm.covars[:, :2], gmm.weights)
    with pytest.raises(InputError, match="positive definite"):
        GMMPrior(gmm.means, -gmm.covars, gmm.weights)
    with pytest.raises(InputError, match="weights"):
        GMMPrior(gmm.means, gmm.covars, np.array([1.0, 0.0]))


# --- the file ---------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    gmm = random_gmm()
    path = save_gmm(tmp_path / "gmm_08.pkl", gmm)
    loaded = load_gmm(path)
    for name in ("means", "covars", "weights"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(gmm, name))
    assert [p.name for p in tmp_path.iterdir()] == ["gmm_08.pkl"]  # no temporary left behind


def test_saved_file_reads_as_smplify_reads_it(tmp_path):
    gmm = random_gmm()
    path = save_gmm(tmp_path / "gmm_08.pkl", gmm)
    data = path.read_bytes()
    assert data[:2] == b"\x80\x02"  # protocol 2
    assert b"numpy._core" not in data  # numpy 1.x readers know only numpy.core
    with open(path, "rb") as f:
        content = pickle.load(f, encoding="latin1")
    assert type(content) is dict and set(content) == {"means", "covars", "weights"}
    assert content["means"].shape == (8, 69) and content["covars"].shape == (8, 69, 69)
    assert content["weights"].shape == (8,) and content["covars"].dtype == np.float64
    np.testing.assert_array_equal(content["covars"], gmm.covars)


def test_load_accepts_sklearn_style_keys(tmp_path):
    gmm = random_gmm(3)
    path = tmp_path / "sk.pkl"
    path.write_bytes(pickle.dumps({"means_": gmm.means, "covars_": gmm.covars, "weights_": gmm.weights}))
    np.testing.assert_array_equal(load_gmm(path).covars, gmm.covars)


def test_load_reports_bad_shapes_naming_file_and_key(tmp_path):
    gmm = random_gmm(2)
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"means": gmm.means, "covars": gmm.covars[:, :, :5], "weights": gmm.weights}))
    with pytest.raises(InputError, match=r"bad\.pkl.*'covars'.*\(2, 69, 69\)") as info:
        load_gmm(path)
    assert "\n" not in str(info.value)
    path.write_bytes(pickle.dumps({"means": np.zeros((2, 72)), "covars": gmm.covars, "weights": gmm.weights}))
    with pytest.raises(InputError, match=r"'means'.*\(K, 69\)"):
        load_gmm(path)
    path.write_bytes(pickle.dumps({"means": gmm.means, "weights": gmm.weights}))
    with pytest.raises(InputError, match="'covars'.*missing"):
        load_gmm(path)
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(InputError, match="dict"):
        load_gmm(path)


def test_missing_file_says_where_to_get_it(tmp_path):
    path = tmp_path / "data" / "gmm_08.pkl"
    with pytest.raises(MissingFileError) as info:
        load_gmm(path)
    message = str(info.value)
    assert str(path) in message and "smplify.is.tue.mpg.de" in message and "fetch_data.sh" in message


class _Malicious:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # loading would create the marker file


def test_malicious_pickle_is_refused_without_side_effects(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "gmm_08.pkl"
    path.write_bytes(pickle.dumps({"means": _Malicious(str(marker))}, protocol=2))
    with pytest.raises(UnsafeFileError):
        load_gmm(path)
    assert not marker.exists()


# --- the max-mixture prior --------------------------------------------------------------------


def test_prior_matches_the_formula_and_shapes():
    gmm = random_gmm(seed=1)
    prior = MaxMixturePrior(gmm)
    poses = np.random.default_rng(2).uniform(-0.5, 0.5, size=(16, 69))
    out = prior(torch.tensor(poses, dtype=torch.float32))
    assert out.shape == (16,) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), reference_prior(gmm, poses), rtol=1e-4)
    assert prior(torch.zeros(3, 5, 69)).shape == (3, 5)
    assert "num_components=8" in repr(prior)
    with pytest.raises(InputError, match=r"\(B, 69\)"):
        prior(torch.zeros(4, 72))


def test_prior_prefers_component_means_over_far_poses():
    gmm = random_gmm(seed=3)
    prior = MaxMixturePrior(gmm)
    means = torch.tensor(gmm.means, dtype=torch.float32)
    far = means + 2.0
    assert (prior(means) < prior(far)).all()


def test_prior_gradient_flows():
    prior = MaxMixturePrior(random_gmm(seed=4))
    pose = torch.full((2, 69), 0.2, requires_grad=True)
    prior(pose).sum().backward()
    assert pose.grad is not None and torch.isfinite(pose.grad).all() and pose.grad.abs().sum() > 0


def test_prior_buffers_move_with_to():
    prior = MaxMixturePrior(random_gmm(seed=5))
    assert {name for name, _ in prior.named_buffers()} == {"means", "precisions", "log_nll_weights"}
    assert not list(prior.parameters())
    double = prior.to(torch.float64)
    assert all(b.dtype == torch.float64 for b in double.buffers())
    assert double(torch.zeros(1, 69, dtype=torch.float64)).dtype == torch.float64


def test_prior_fitted_on_procedural_poses_prefers_them():
    poses = sample_poses(2500, seed=0)
    gmm = fit_gmm(poses[:2000], n_components=8, seed=0)
    prior = MaxMixturePrior(gmm)
    held_out = prior(torch.from_numpy(poses[2000:]))
    uniform = prior(torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (500, 69)).astype(np.float32)))
    assert held_out.median() < uniform.median()
    assert (held_out < uniform.min()).float().mean() > 0.95
