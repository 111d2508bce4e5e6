"""--smooth on SMPL parameters (rotations on the manifold) and 3D joints."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from body_models.errors import InputError
from hmr.world.smoothing import smooth_rotations, smooth_smpl_sequence, smooth_vectors


def _angle_deg(a, b):
    return np.degrees(np.linalg.norm((Rotation.from_rotvec(a).inv() * Rotation.from_rotvec(b)).as_rotvec(), axis=-1))


@pytest.mark.parametrize("method", ["one-euro", "temporal"])
def test_rotations_are_smoothed_on_the_manifold_across_the_half_turn(method):
    """A turn about z through 180°, where the axis-angle numbers jump from (0, 0, π) to (0, 0, −π)."""
    t = np.linspace(170, 190, 21)
    truth = Rotation.from_euler("z", t[:, None], degrees=True).as_rotvec()  # (T, 3)
    noise = Rotation.from_rotvec(np.random.default_rng(0).normal(0, 0.03, (21, 3)))
    noisy = (Rotation.from_rotvec(truth) * noise).as_rotvec()
    valid = np.ones((21, 1), bool)
    smoothed = smooth_rotations(noisy[:, None, None], valid, 25.0, method)[:, 0, 0]
    assert _angle_deg(smoothed, truth).max() < 3.0
    assert _angle_deg(smoothed, truth).mean() < _angle_deg(noisy, truth).mean()
    naive = smooth_vectors(noisy[:, None], valid, 25.0, method)[:, 0]  # raw axis-angle numbers
    assert _angle_deg(naive, truth).max() > 10.0


def test_vectors_lose_noise_and_gaps_restart_the_filter():
    rng = np.random.default_rng(1)
    truth = np.linspace(0, 0.3, 40)[:, None, None] * np.array([1.0, 0.5, 0.2])  # about 0.2 m/s
    noisy = truth + rng.normal(0, 0.02, truth.shape)
    valid = np.ones((40, 1), bool)
    valid[20] = False
    noisy[20] = np.nan
    for method in ("one-euro", "temporal"):
        out = smooth_vectors(noisy, valid, 25.0, method)
        assert np.isnan(out[20]).all() and np.isfinite(out[valid[:, 0]]).all()
        err = lambda x: np.abs(x[valid[:, 0]] - truth[valid[:, 0]]).mean()  # noqa: E731
        assert err(out) < 0.8 * err(noisy), method
    assert np.array_equal(smooth_vectors(noisy, valid, 25.0, "none"), noisy, equal_nan=True)
    with pytest.raises(InputError, match="one-euro, temporal"):
        smooth_vectors(noisy, valid, 25.0, "kalman")


def test_smpl_sequences_keep_joints_consistent(mannequin_smpl):
    import torch

    from body_models.sequences import SMPLSequence

    rng = np.random.default_rng(2)
    t = 10
    fit = SMPLSequence(global_orient=rng.normal(0, 0.2, (t, 1, 3)).astype(np.float32),
                       body_pose=rng.normal(0, 0.2, (t, 1, 69)).astype(np.float32),
                       transl=(rng.normal(0, 0.05, (t, 1, 3)) + [0, 0, 4]).astype(np.float32),
                       betas=rng.normal(0, 0.5, (t, 1, 10)).astype(np.float32),
                       joints=np.zeros((t, 1, 24, 3), np.float32), valid=np.ones((t, 1), bool), fps=25.0)
    out = smooth_smpl_sequence(fit, mannequin_smpl, "temporal")
    with torch.no_grad():
        body = mannequin_smpl(**{k: torch.as_tensor(v[:, 0]) for k, v in out.smpl_parameters().items()})
    assert np.abs(body.joints.numpy() - out.joints[:, 0]).max() < 1e-5
    assert np.abs(np.diff(out.transl, 2, axis=0)).mean() < np.abs(np.diff(fit.transl, 2, axis=0)).mean()
    assert out.smoothing == "temporal" and fit.smoothing is None
