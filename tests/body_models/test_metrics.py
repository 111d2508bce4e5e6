"""Tests for body_models.metrics against independent closed forms and brute force."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation

from body_models import metrics

REFLECT_X = np.array([-1.0, 1.0, 1.0])


def _poses(n=8, j=17, seed=0):
    return np.random.default_rng(seed).normal(size=(n, j, 3)) * 0.3


def _similarity_align_scipy(pred, gt):
    """Best scale·rotation·translation per pose, via scipy's Kabsch (proper rotations only).

    For centred points the optimal rotation does not depend on the scale, and the scale is then
    the least-squares ratio ⟨gt, R pred⟩ / ‖pred‖².
    """
    out = np.empty_like(pred)
    for n in range(len(pred)):
        p = pred[n] - pred[n].mean(0)
        g = gt[n] - gt[n].mean(0)
        rotation, _ = Rotation.align_vectors(g, p)  # rotation.apply(p) ≈ g
        rp = rotation.apply(p)
        scale = np.sum(g * rp) / np.sum(p * p)
        out[n] = scale * rp + gt[n].mean(0)
    return out


def _umeyama_error(pred, gt):
    """Umeyama (1991) similarity in column-vector form, S = diag(1, 1, det(U)det(V))."""
    errors = []
    for p, g in zip(pred, gt):
        mp, mg = p.mean(0), g.mean(0)
        pc, gc = p - mp, g - mg
        cov = gc.T @ pc / len(p)
        u, d, vt = np.linalg.svd(cov)
        s = np.eye(3)
        s[2, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
        rotation = u @ s @ vt
        scale = np.trace(np.diag(d) @ s) / (pc**2).sum(1).mean()
        t = mg - scale * rotation @ mp
        aligned = (scale * (rotation @ p.T)).T + t
        errors.append(np.linalg.norm(aligned - g, axis=1))
    return float(np.mean(errors))


def test_mpjpe_and_pve_known_value():
    gt = _poses()
    pred = gt + np.array([0.003, 0.004, 0.0])
    assert metrics.mpjpe(pred, gt) == pytest.approx(0.005, abs=1e-15)
    assert metrics.pve(pred, gt) == pytest.approx(0.005, abs=1e-15)
    assert metrics.mpjpe(pred, gt) * metrics.MM_PER_M == pytest.approx(5.0)


def test_pa_mpjpe_of_similar_copy_is_zero():
    gt = _poses(seed=1)
    rotation = Rotation.random(len(gt), random_state=2).as_matrix()
    pred = 2.5 * np.einsum("nij,nkj->nki", rotation, gt) + np.array([0.4, -1.0, 3.0])
    assert metrics.mpjpe(pred, gt) > 0.1
    assert metrics.pa_mpjpe(pred, gt) < 1e-12
    np.testing.assert_allclose(metrics.procrustes_align(pred, gt), gt, atol=1e-12)


@pytest.mark.parametrize("kind", ["noise", "reflected"])
def test_pa_mpjpe_matches_independent_solutions(kind):
    rng = np.random.default_rng(3)
    gt = _poses(n=20, seed=4)
    pred = gt + 0.05 * rng.normal(size=gt.shape)
    if kind == "reflected":
        pred = pred * REFLECT_X
    expected = np.mean(np.linalg.norm(_similarity_align_scipy(pred, gt) - gt, axis=-1))
    assert metrics.pa_mpjpe(pred, gt) == pytest.approx(expected, rel=1e-9)
    assert metrics.pa_mpjpe(pred, gt) == pytest.approx(_umeyama_error(pred, gt), rel=1e-9)
    np.testing.assert_allclose(metrics.procrustes_align(pred, gt), _similarity_align_scipy(pred, gt), atol=1e-10)


def test_reflection_is_not_used_and_result_is_optimal_over_proper_rotations():
    gt = _poses(n=1, j=12, seed=5)
    pred = gt * REFLECT_X  # the best fit would be a mirror, which is not allowed
    error = metrics.pa_mpjpe(pred, gt)
    assert error > 0.01  # a mirror alignment would give 0

    aligned = metrics.procrustes_align(pred, gt)[0]
    # The alignment is a proper similarity: a map with positive determinant.
    a = np.c_[pred[0], np.ones(len(pred[0]))]
    linear = np.linalg.lstsq(a, aligned, rcond=None)[0][:3]
    assert np.linalg.det(linear) > 0

    # Brute force over positive scale (a negative one would be a point reflection), proper
    # rotation and translation; Procrustes minimises the sum of squared errors.
    def sum_sq(params):
        rot = Rotation.from_rotvec(params[:3]).as_matrix()
        moved = np.exp(params[3]) * pred[0] @ rot.T + params[4:]
        return np.sum((moved - gt[0]) ** 2)

    best = min(
        (minimize(sum_sq, np.r_[Rotation.random(random_state=s).as_rotvec(), 0.0, 0, 0, 0], method="BFGS")
         for s in range(20)),
        key=lambda r: r.fun,
    )
    assert np.sum((aligned - gt[0]) ** 2) <= best.fun + 1e-9
    assert np.sum((aligned - gt[0]) ** 2) == pytest.approx(best.fun, rel=1e-5)


def test_n_mpjpe():
    gt = _poses(seed=6)
    assert metrics.n_mpjpe(0.7 * gt, gt) < 1e-12
    rng = np.random.default_rng(7)
    pred = gt + 0.05 * rng.normal(size=gt.shape)
    # per-pose least-squares scale, computed with lstsq
    errors = []
    for p, g in zip(pred, gt):
        c = np.linalg.lstsq(p.reshape(-1, 1), g.reshape(-1), rcond=None)[0][0]
        errors.append(np.linalg.norm(c * p - g, axis=-1))
    assert metrics.n_mpjpe(pred, gt) == pytest.approx(np.mean(errors), rel=1e-12)


def test_mpjve():
    gt = _poses(n=10, seed=8)
    assert metrics.mpjve(gt + np.array([1.0, 2.0, 3.0]), gt) < 1e-12
    drift = np.arange(10)[:, None, None] * np.array([0.0, 0.0, 0.002])
    assert metrics.mpjve(gt + drift, gt) == pytest.approx(0.002)
    with pytest.raises(ValueError, match=r"\(1, 17, 3\)"):
        metrics.mpjve(gt[:1], gt[:1])


def _vibe_accel(pred, gt, vis):
    """VIBE's rule written with loops: keep t when frames t, t+1, t+2 are all visible."""
    per_frame = []
    for t in range(len(gt) - 2):
        if vis is not None and not (vis[t] and vis[t + 1] and vis[t + 2]):
            continue
        a_p = pred[t] - 2 * pred[t + 1] + pred[t + 2]
        a_g = gt[t] - 2 * gt[t + 1] + gt[t + 2]
        per_frame.append(np.mean(np.linalg.norm(a_p - a_g, axis=-1)))
    return np.mean(per_frame)


def test_accel_error():
    gt = _poses(n=30, seed=9)
    linear = np.arange(30)[:, None, None] * np.array([0.01, -0.02, 0.03])
    assert metrics.accel_error(gt + linear + 5.0, gt) < 1e-12  # constant velocity: no acceleration
    pred = gt + 0.02 * np.random.default_rng(10).normal(size=gt.shape)
    assert metrics.accel_error(pred, gt) == pytest.approx(_vibe_accel(pred, gt, None), rel=1e-12)
    valid = np.ones(30, dtype=bool)
    valid[[0, 7, 8, 20, 29]] = False
    assert metrics.accel_error(pred, gt, valid) == pytest.approx(_vibe_accel(pred, gt, valid), rel=1e-12)
    assert metrics.accel_error(torch.from_numpy(pred), torch.from_numpy(gt), torch.from_numpy(valid)) == (
        metrics.accel_error(pred, gt, valid)
    )
    with pytest.raises(ValueError, match=r"\(29,\)"):
        metrics.accel_error(pred, gt, valid[:29])


def test_pck_and_auc():
    gt = np.zeros((1, 4, 3))
    pred = np.array([[[0.0, 0, 0], [0.05, 0, 0], [0.15, 0, 0], [0.3, 0, 0]]])
    # strict inequality: the joint at exactly 150 mm does not count
    assert metrics.pck(pred, gt) == pytest.approx(50.0)
    assert metrics.pck(pred, gt, threshold=0.2) == pytest.approx(75.0)
    thresholds = np.linspace(0, 0.150, 31)
    expected = np.mean([100.0 * np.mean(np.linalg.norm(pred - gt, axis=-1) < t) for t in thresholds])
    assert metrics.auc(pred, gt) == pytest.approx(expected)
    assert metrics.auc(pred, gt, thresholds=[0.1, 0.2]) == pytest.approx(62.5)
    assert metrics.auc(gt, gt) == pytest.approx(100.0 * 30 / 31)  # error 0 is not < 0


@pytest.mark.parametrize("name", ["mpjpe", "pa_mpjpe", "n_mpjpe", "mpjve", "pve", "accel_error", "pck", "auc"])
def test_numpy_and_torch_give_the_same_float(name):
    fn = getattr(metrics, name)
    gt = _poses(n=6, seed=11)
    pred = gt * REFLECT_X + 0.05
    expected = fn(pred, gt)
    assert isinstance(expected, float)
    assert fn(torch.from_numpy(pred), torch.from_numpy(gt)) == expected
    pred32, gt32 = pred.astype(np.float32), gt.astype(np.float32)
    assert fn(torch.from_numpy(pred32), torch.from_numpy(gt32)) == fn(pred32, gt32)


def test_leading_dims_are_flattened():
    gt = _poses(n=10, seed=12)
    pred = gt + 0.05 * np.random.default_rng(13).normal(size=gt.shape)
    for name in ("mpjpe", "pa_mpjpe", "n_mpjpe", "pve", "pck", "auc"):
        fn = getattr(metrics, name)
        assert fn(pred.reshape(2, 5, 17, 3), gt.reshape(2, 5, 17, 3)) == pytest.approx(fn(pred, gt), rel=1e-14)
    aligned = metrics.procrustes_align(torch.from_numpy(pred).float().reshape(2, 5, 17, 3), gt.reshape(2, 5, 17, 3))
    assert isinstance(aligned, torch.Tensor) and aligned.dtype == torch.float32 and aligned.shape == (2, 5, 17, 3)


@pytest.mark.parametrize("name", ["mpjpe", "pa_mpjpe", "n_mpjpe", "mpjve", "pve", "accel_error", "pck", "auc"])
def test_shape_errors_name_the_shapes(name):
    fn = getattr(metrics, name)
    with pytest.raises(ValueError, match=r"\(4, 17, 3\).*\(4, 16, 3\)"):
        fn(np.zeros((4, 17, 3)), np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match=r"\(4, 17, 2\)"):
        fn(np.zeros((4, 17, 2)), np.zeros((4, 17, 2)))
