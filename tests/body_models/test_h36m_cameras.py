"""Tests for the Human3.6M camera maths in body_models.cameras (FORMATS §2.9)."""

import numpy as np
import pytest
import torch

from body_models import cameras
from body_models.errors import InputError

# S1 camera 0 (FORMATS §2.8): orientation (w, x, y, z) and position in metres.
Q = np.array([0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088])
T = np.array([1841.1070556640625, 4955.28466796875, 1563.4454345703125]) / 1000


def _rotation_matrix(q):
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def test_world_camera_round_trip_numpy_and_torch():
    points = np.random.default_rng(0).normal(size=(5, 17, 3))
    cam = cameras.world_to_camera(points, Q, T)
    assert isinstance(cam, np.ndarray) and cam.shape == points.shape and cam.dtype == np.float64
    np.testing.assert_allclose(cameras.camera_to_world(cam, Q, T), points, atol=1e-6)
    cam_t = cameras.world_to_camera(torch.from_numpy(points).float(), torch.tensor(Q), torch.tensor(T))
    assert isinstance(cam_t, torch.Tensor) and cam_t.dtype == torch.float32
    np.testing.assert_allclose(cam_t.numpy(), cam, atol=1e-5)


def test_world_to_camera_matches_rotation_matrix():
    # X_cam = R(q)ᵀ (X − t): the quaternion turns camera axes into world axes
    points = np.random.default_rng(1).normal(size=(7, 3))
    expected = (points - T) @ _rotation_matrix(Q)
    np.testing.assert_allclose(cameras.world_to_camera(points, Q, T), expected, atol=1e-6)


def test_world_to_camera_per_point_quaternions_broadcast():
    points = np.random.default_rng(2).normal(size=(4, 3))
    quats = np.tile(Q, (4, 1))
    np.testing.assert_allclose(cameras.world_to_camera(points, quats, T),
                               cameras.world_to_camera(points, Q, T), atol=1e-12)


def test_screen_coordinates():
    pixels = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    normalized = cameras.normalize_screen_coordinates(pixels, 1000, 1002)
    np.testing.assert_allclose(normalized, [[-1, -1.002], [1, 1.002], [0, 0]], atol=1e-12)
    np.testing.assert_allclose(cameras.image_coordinates(normalized, 1000, 1002), pixels, atol=1e-9)
    as_tensor = cameras.normalize_screen_coordinates(torch.tensor(pixels), 1000, 1002)
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_allclose(as_tensor.numpy(), normalized)


def test_projection_without_distortion_is_pinhole_and_clamped():
    intrinsic = np.array([2.3, 2.2, 0.05, -0.02, 0, 0, 0, 0, 0])
    points = np.array([[[0.3, -0.2, 2.0], [4.0, 0.1, 1.0]]])  # second point beyond the clamp in x
    expected = np.array([[[2.3 * 0.15 + 0.05, 2.2 * -0.1 - 0.02], [2.3 * 1.0 + 0.05, 2.2 * 0.1 - 0.02]]])
    np.testing.assert_allclose(cameras.project_to_2d(points, intrinsic[None]), expected, atol=1e-12)
    np.testing.assert_allclose(cameras.project_to_2d_linear(points, intrinsic), expected, atol=1e-12)


def test_projection_distortion_formula():
    k1, k2, k3, p1, p2 = -0.2, 0.25, -0.003, -0.001, -0.0014
    intrinsic = np.array([2.29, 2.28, 0.025, 0.03, k1, k2, k3, p1, p2])
    point = np.array([0.4, -0.3, 2.5])
    px, py = point[:2] / point[2]
    r2 = px * px + py * py
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = p1 * px + p2 * py
    expected = np.array([2.29 * (px * (radial + tan) + p1 * r2) + 0.025,
                         2.28 * (py * (radial + tan) + p2 * r2) + 0.03])
    out = cameras.project_to_2d(torch.tensor(point)[None, None], torch.tensor(intrinsic)[None])
    assert out.shape == (1, 1, 2)
    np.testing.assert_allclose(out.numpy()[0, 0], expected, atol=1e-12)


def test_projection_batches_per_camera():
    rng = np.random.default_rng(3)
    points = np.concatenate([rng.normal(size=(3, 4, 5, 2)) * 0.3, rng.uniform(2, 4, (3, 4, 5, 1))], -1)
    intrinsic = np.concatenate([rng.uniform(2, 2.4, (3, 2)), rng.normal(0, 0.05, (3, 7))], -1)
    out = cameras.project_to_2d(points, intrinsic)
    assert out.shape == (3, 4, 5, 2)
    for n in range(3):
        np.testing.assert_allclose(out[n], cameras.project_to_2d(points[n], intrinsic[n]), atol=1e-12)


def test_bad_shapes_raise_input_error():
    with pytest.raises(InputError, match="X must have shape"):
        cameras.world_to_camera(np.zeros((4, 2)), Q, T)
    with pytest.raises(InputError, match="R_quat"):
        cameras.world_to_camera(np.zeros((4, 3)), Q[:3], T)
    with pytest.raises(InputError, match="intrinsic"):
        cameras.project_to_2d(np.ones((2, 4, 3)), np.zeros((3, 9)))
    with pytest.raises(InputError, match=r"\(\.\.\., 2\)"):
        cameras.normalize_screen_coordinates(np.zeros((4, 3)), 100, 100)
