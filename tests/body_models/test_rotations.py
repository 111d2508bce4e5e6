"""Tests for body_models.rotations: round trips, scipy agreement, edge angles, gradients, SPIN's 6D."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from body_models import rotations as rot


def _random_axis_angle(n, seed=0, dtype=torch.float64, max_angle=math.pi):
    gen = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=dtype), dim=-1)
    angle = torch.rand(n, 1, generator=gen, dtype=dtype) * max_angle
    return axis * angle


def _edge_axis_angles(dtype=torch.float64):
    """Exactly 0, tiny, near π and exactly π, about assorted axes."""
    gen = torch.Generator().manual_seed(1)
    axes = torch.nn.functional.normalize(torch.randn(6, 3, generator=gen, dtype=dtype), dim=-1)
    axes = torch.cat([axes, torch.eye(3, dtype=dtype)])
    angles = torch.tensor([0.0, 1e-12, 1e-7, 1e-4, 1e-2, math.pi - 1e-3, math.pi - 1e-6, math.pi], dtype=dtype)
    return (axes[:, None, :] * angles[None, :, None]).reshape(-1, 3)


def _same_rotation_axis_angle(a, b, atol):
    """Axis-angle vectors equal up to the ±axis ambiguity at exactly π."""
    close = (a - b).abs().amax(-1) <= atol
    at_pi = (a.norm(dim=-1) - math.pi).abs() <= atol
    flipped = (a + b).abs().amax(-1) <= atol
    return bool((close | (at_pi & flipped)).all())


def _quat_wxyz_from_scipy(r):
    xyzw = r.as_quat()
    return np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_axis_angle_matrix_matches_scipy(dtype):
    aa = torch.cat([_random_axis_angle(200, dtype=dtype), _edge_axis_angles(dtype)])
    expected = Rotation.from_rotvec(aa.double().numpy()).as_matrix()
    got = rot.axis_angle_to_matrix(aa)
    assert got.dtype == dtype
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    np.testing.assert_allclose(got.double().numpy(), expected, atol=tol)


def test_matrix_to_axis_angle_matches_scipy():
    aa = torch.cat([_random_axis_angle(300, max_angle=math.pi * 0.999), _edge_axis_angles()])
    matrix = torch.from_numpy(Rotation.from_rotvec(aa.numpy()).as_matrix())
    got = rot.matrix_to_axis_angle(matrix)
    expected = torch.from_numpy(Rotation.from_matrix(matrix.numpy()).as_rotvec())
    assert _same_rotation_axis_angle(got, expected, atol=1e-9)


def test_quaternions_match_scipy():
    aa = torch.cat([_random_axis_angle(200), _edge_axis_angles()])
    r = Rotation.from_rotvec(aa.numpy())
    q_scipy = torch.from_numpy(_quat_wxyz_from_scipy(r))
    q_scipy = q_scipy * torch.where(q_scipy[:, :1] < 0, -1.0, 1.0).double()
    q = rot.axis_angle_to_quaternion(aa)
    # Near π the sign of w is ambiguous; compare up to ±.
    diff = torch.minimum((q - q_scipy).abs().amax(-1), (q + q_scipy).abs().amax(-1))
    assert diff.max() < 1e-12
    np.testing.assert_allclose(rot.quaternion_to_matrix(q).numpy(), r.as_matrix(), atol=1e-12)
    q_from_matrix = rot.matrix_to_quaternion(torch.from_numpy(r.as_matrix()))
    diff = torch.minimum((q_from_matrix - q).abs().amax(-1), (q_from_matrix + q).abs().amax(-1))
    assert diff.max() < 1e-9


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trips(dtype):
    aa = torch.cat([_random_axis_angle(500, seed=3, dtype=dtype), _edge_axis_angles(dtype)])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert _same_rotation_axis_angle(rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa)), aa, tol)
    assert _same_rotation_axis_angle(rot.quaternion_to_axis_angle(rot.axis_angle_to_quaternion(aa)), aa, tol)

    matrix = rot.axis_angle_to_matrix(aa)
    mtol = 1e-12 if dtype == torch.float64 else 1e-6
    for back in (
        rot.axis_angle_to_matrix(rot.matrix_to_axis_angle(matrix)),
        rot.quaternion_to_matrix(rot.matrix_to_quaternion(matrix)),
        rot.rot6d_to_matrix(rot.matrix_to_rot6d(matrix)),
    ):
        assert back.dtype == dtype
        torch.testing.assert_close(back, matrix, atol=mtol * 10, rtol=0)


def test_exact_zero_and_pi():
    zero = torch.zeros(3, dtype=torch.float64)
    torch.testing.assert_close(rot.axis_angle_to_matrix(zero), torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(rot.matrix_to_axis_angle(torch.eye(3, dtype=torch.float64)), zero)
    torch.testing.assert_close(rot.axis_angle_to_quaternion(zero), torch.tensor([1.0, 0, 0, 0], dtype=torch.float64))
    torch.testing.assert_close(rot.quaternion_to_axis_angle(torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)), zero)

    for axis in torch.eye(3, dtype=torch.float64):
        matrix = 2.0 * torch.outer(axis, axis) - torch.eye(3, dtype=torch.float64)  # half turn
        torch.testing.assert_close(rot.axis_angle_to_matrix(math.pi * axis), matrix, atol=1e-15, rtol=0)
        back = rot.matrix_to_axis_angle(matrix)
        assert _same_rotation_axis_angle(back[None], (math.pi * axis)[None], 1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_finite_at_zero_and_pi(dtype):
    aa = torch.cat([torch.zeros(1, 3, dtype=dtype), _edge_axis_angles(dtype)]).requires_grad_(True)
    for fn in (rot.axis_angle_to_matrix, rot.axis_angle_to_quaternion):
        (grad,) = torch.autograd.grad(fn(aa).sum(), aa)
        assert torch.isfinite(grad).all()

    matrix = rot.axis_angle_to_matrix(aa.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(rot.matrix_to_axis_angle(matrix).sum(), matrix)
    assert torch.isfinite(grad).all()

    quat = torch.tensor([[1.0, 0, 0, 0], [0.0, 1, 0, 0]], dtype=dtype, requires_grad=True)
    (grad,) = torch.autograd.grad(rot.quaternion_to_axis_angle(quat).sum(), quat)
    assert torch.isfinite(grad).all()


def test_gradient_at_zero_is_correct():
    # d R / d aa at 0 is the cross-product generator: dR_ij/d aa_k = -eps_ijk.
    aa = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(rot.axis_angle_to_matrix, aa)  # (3, 3, 3)
    expected = torch.zeros(3, 3, 3, dtype=torch.float64)
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        expected[i, j, k] = -1.0
        expected[j, i, k] = 1.0
    torch.testing.assert_close(jac, expected)
    # and matrix_to_axis_angle inverts it at the identity
    jac_back = torch.autograd.functional.jacobian(
        lambda a: rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(a)), aa
    )
    torch.testing.assert_close(jac_back, torch.eye(3, dtype=torch.float64))


def test_gradcheck_generic_point():
    aa = (_random_axis_angle(4, seed=5) * 0.9).requires_grad_(True)
    assert torch.autograd.gradcheck(rot.axis_angle_to_matrix, (aa,))
    assert torch.autograd.gradcheck(lambda a: rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(a)), (aa,))


def _spin_rot6d_to_rotmat(x):
    """SPIN's rot6d_to_rotmat maths, written out independently of the library."""
    x = x.reshape(-1, 3, 2)
    a1 = x[:, :, 0]
    a2 = x[:, :, 1]
    b1 = a1 / a1.norm(dim=1, keepdim=True).clamp(min=1e-12)
    proj = a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1
    b2 = proj / proj.norm(dim=1, keepdim=True).clamp(min=1e-12)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack((b1, b2, b3), dim=-1)


def test_rot6d_matches_spin_convention():
    gen = torch.Generator().manual_seed(7)
    raw = torch.randn(5, 24 * 6, generator=gen, dtype=torch.float64)  # network output (B, 24*6)
    got = rot.rot6d_to_matrix(raw.reshape(5, 24, 6))
    assert got.shape == (5, 24, 3, 3)
    torch.testing.assert_close(got.reshape(-1, 3, 3), _spin_rot6d_to_rotmat(raw), atol=1e-14, rtol=0)
    # interleaved columns: r0, r2, r4 is the first column direction
    six = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(rot.rot6d_to_matrix(six), torch.eye(3, dtype=torch.float64))
    matrix = rot.axis_angle_to_matrix(_random_axis_angle(3))
    expected = torch.stack([matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1],
                            matrix[:, 2, 0], matrix[:, 2, 1]], dim=-1)
    torch.testing.assert_close(rot.matrix_to_rot6d(matrix), expected)


def test_quaternion_apply_multiply_inverse():
    aa = _random_axis_angle(50, seed=9)
    q = rot.axis_angle_to_quaternion(aa)
    v = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    matrix = rot.quaternion_to_matrix(q)
    torch.testing.assert_close(rot.quaternion_apply(q, v), (matrix @ v[..., None])[..., 0])
    torch.testing.assert_close(rot.quaternion_apply(rot.quaternion_inverse(q), rot.quaternion_apply(q, v)), v)

    q2 = rot.axis_angle_to_quaternion(_random_axis_angle(50, seed=10))
    product = rot.quaternion_multiply(q, q2)
    torch.testing.assert_close(rot.quaternion_to_matrix(product), matrix @ rot.quaternion_to_matrix(q2))
    identity = rot.quaternion_multiply(q, rot.quaternion_inverse(q))
    torch.testing.assert_close(identity, torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).expand(50, 4))
    # broadcasting one quaternion over many points (VideoPose3D's camera_to_world shape)
    points = torch.randn(7, 17, 3, dtype=torch.float64)
    out = rot.quaternion_apply(q[0], points)
    torch.testing.assert_close(out, points @ matrix[0].T)


@pytest.mark.parametrize("lead", [(), (2,), (2, 3, 4)])
def test_shapes_and_dtype(lead):
    aa = torch.randn(lead + (3,), dtype=torch.float32)
    assert rot.axis_angle_to_matrix(aa).shape == lead + (3, 3)
    assert rot.axis_angle_to_quaternion(aa).shape == lead + (4,)
    matrix = rot.axis_angle_to_matrix(aa)
    assert rot.matrix_to_axis_angle(matrix).shape == lead + (3,)
    assert rot.matrix_to_quaternion(matrix).shape == lead + (4,)
    assert rot.matrix_to_rot6d(matrix).shape == lead + (6,)
    assert rot.rot6d_to_matrix(torch.randn(lead + (6,))).shape == lead + (3, 3)
    assert rot.quaternion_to_axis_angle(torch.randn(lead + (4,))).dtype == torch.float32


def test_bad_shapes_raise_with_shape():
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        rot.axis_angle_to_matrix(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(5, 3, 2\)"):
        rot.matrix_to_axis_angle(torch.zeros(5, 3, 2))
    with pytest.raises(ValueError, match=r"\(7,\)"):
        rot.rot6d_to_matrix(torch.zeros(7))
