"""2D input corruption for lifter training (lifting.augment); the filling itself is in test_filling.py."""

import numpy as np
import pytest

from body_models.errors import InputError
from lifting.augment import corrupt_keypoints


def _windows(rng, b=6, t=9, j=5, f=2):
    return rng.normal(size=(b, t, j, f)).astype(np.float32)


def test_all_off_leaves_the_keypoints_as_they_are():
    rng = np.random.default_rng(1)
    keypoints = _windows(rng)
    out = corrupt_keypoints(keypoints, np.random.default_rng(2))
    np.testing.assert_array_equal(out, keypoints)
    assert out is not keypoints


def test_noise_has_the_asked_spread_on_x_and_y_only():
    keypoints = np.zeros((64, 27, 17, 3), np.float32)
    out = corrupt_keypoints(keypoints, np.random.default_rng(3), noise=0.004)
    assert out[..., :2].std() == pytest.approx(0.004, rel=0.02)
    np.testing.assert_array_equal(out[..., 2], 0.0)


def test_dropped_keypoints_are_refilled_from_their_neighbours_in_time():
    # a joint moving linearly in time: interpolation puts every dropped keypoint back exactly
    t = np.arange(27, dtype=np.float32)
    keypoints = np.broadcast_to((t[:, None, None] * 0.01 + np.arange(17)[None, :, None] * 0.1), (32, 27, 17, 2)).copy()
    out = corrupt_keypoints(keypoints, np.random.default_rng(4), dropout=0.3)
    inner = slice(1, -1)  # held, not extrapolated, at the ends
    changed = np.abs(out - keypoints).max(axis=-1) > 1e-6
    assert changed.mean() < 0.05  # only end frames that were dropped differ
    np.testing.assert_allclose(out[:, inner].mean(), keypoints[:, inner].mean(), atol=1e-3)


def test_truncation_removes_the_keypoints_beyond_a_border_line():
    keypoints = np.zeros((400, 5, 17, 2), np.float32)
    keypoints[..., 1] = np.linspace(-1, 1, 17)  # every frame: the joints from the head (-1) to the feet (1)
    out = corrupt_keypoints(keypoints, np.random.default_rng(5), truncation=1.0)
    moved = np.abs(out - keypoints).max(axis=(1, 3)) > 1e-6  # (B, J)
    # a cut across x (all x are 0) removes nothing; a cut across y removes the joints beyond it, each
    # then missing all window long and put at the mean of the frame's others
    assert 0.4 < moved.any(axis=1).mean() < 0.6
    for row in moved[moved.any(axis=1)]:
        gone = np.flatnonzero(row)
        assert 0 < len(gone) < 17
        assert gone[0] == 0 or gone[-1] == 16  # one end of the body: the head side or the feet side
        assert np.all(np.diff(gone) == 1)


def test_a_window_always_keeps_a_keypoint_and_bad_settings_are_refused():
    keypoints = np.zeros((4, 3, 2, 2), np.float32)
    out = corrupt_keypoints(keypoints, np.random.default_rng(6), dropout=0.999)
    assert np.isfinite(out).all()
    for bad in ({"noise": -1.0}, {"dropout": 1.0}, {"truncation": 1.5}):
        with pytest.raises(InputError, match="noise must be"):
            corrupt_keypoints(keypoints, np.random.default_rng(0), **bad)


def test_shift_and_scale_move_each_window_rigidly():
    rng = np.random.default_rng(7)
    keypoints = rng.normal(size=(32, 9, 17, 2)).astype(np.float32) * 0.2
    out = corrupt_keypoints(keypoints, np.random.default_rng(8), shift=0.1, scale=0.15)
    for before, after in zip(keypoints, out):
        # one similarity per window: after = s * (before - c) + c + t, the same s and t in every frame
        c = before.reshape(-1, 2).mean(0)
        centred, moved = before.reshape(-1, 2) - c, after.reshape(-1, 2)
        s = np.linalg.lstsq(centred.reshape(-1, 1), (moved - moved.mean(0)).reshape(-1), rcond=None)[0][0]
        np.testing.assert_allclose(moved, s * centred + moved.mean(0), atol=1e-5)
    offsets = (out - keypoints).reshape(32, -1, 2).mean(1)
    assert 0.05 < offsets.std() < 0.2
    with pytest.raises(InputError, match="shift and scale must be >= 0"):
        corrupt_keypoints(keypoints, np.random.default_rng(0), scale=-0.1)
