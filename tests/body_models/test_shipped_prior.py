"""The mannequin's precomputed pose prior reproduces its build, and first use only copies it."""

import numpy as np
from scipy.special import logsumexp

from body_models import mannequin, mannequin_prior, priors


def test_shipped_prior_is_the_fit_of_todays_poses():
    """The shipped file records the digest of the poses it was fitted to, and is a fixed point of
    the fit's EM on them: rebuilding (``hmr mannequin --build-prior``) gives it back."""
    shipped = mannequin_prior.load_shipped_prior()
    assert shipped is not None and shipped.num_components == mannequin_prior.PRIOR_COMPONENTS
    poses = mannequin_prior.prior_poses()
    with np.load(mannequin_prior.SHIPPED_PRIOR, allow_pickle=False) as z:
        assert str(z["poses_sha256"]) == mannequin_prior.poses_digest(poses), (
            "body_models.motion changed: run `hmr mannequin --build-prior` and bump PRIOR_VERSION")
        assert str(z["version"]) == mannequin.PRIOR_VERSION
    x = poses.astype(np.float64)
    log_joint = priors._log_gaussians(x, shipped.means, shipped.covars) + np.log(shipped.weights)
    resp = np.exp(log_joint - logsumexp(log_joint, axis=1)[:, None])
    weights, means, covars = priors._m_step(x, resp, 1e-4)  # fit_gmm's reg_covar
    np.testing.assert_allclose(weights, shipped.weights, atol=1e-6)
    np.testing.assert_allclose(means, shipped.means, atol=1e-6)
    np.testing.assert_allclose(covars, shipped.covars, atol=1e-6)


def test_first_use_writes_the_shipped_prior_without_fitting(tmp_path, monkeypatch):
    def no_fit():
        raise AssertionError("the prior was fitted although a precomputed one ships")

    monkeypatch.setattr(mannequin_prior, "build_prior", no_fit)
    path = mannequin.gmm_prior_path(tmp_path)
    loaded, shipped = priors.load_gmm(path), mannequin_prior.load_shipped_prior()
    np.testing.assert_array_equal(loaded.means, shipped.means)
    np.testing.assert_array_equal(loaded.covars, shipped.covars)
    assert path.parent == tmp_path / "mannequin"


def test_a_missing_or_damaged_shipped_file_is_ignored(tmp_path):
    assert mannequin_prior.load_shipped_prior(tmp_path / "absent.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    assert mannequin_prior.load_shipped_prior(tmp_path / "bad.npz") is None


def test_fitting_the_prior_says_so(tmp_path, monkeypatch, caplog):
    import logging

    shipped = mannequin_prior.load_shipped_prior()
    monkeypatch.setattr(mannequin_prior, "load_shipped_prior", lambda: None)
    monkeypatch.setattr(mannequin_prior, "build_prior", lambda: shipped)
    with caplog.at_level(logging.INFO, logger="body_models.mannequin"):
        mannequin.gmm_prior_path(tmp_path)
    assert "fitting the mannequin's pose prior (first use" in caplog.text
