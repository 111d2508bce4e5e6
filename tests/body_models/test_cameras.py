"""Tests for body_models.cameras: projections, box helpers, HRNet and SPIN crop transforms."""

import math

import numpy as np
import pytest
import torch

from body_models import cameras

# Matrices returned by HRNet's official get_affine_transform (cv2.getAffineTransform) for these
# inputs: (center, scale, rot_deg, output_size, inv, matrix).
HRNET_AFFINE_REFERENCE = [
    ((320.5, 240.25), (1.2, 1.6), 0.0, (192, 256), False,
     [[0.7999999999999999, -0.0, -160.4], [0.0, 0.8, -64.2]]),
    ((1000.0, 77.0), (0.9, 1.2), 30.0, (288, 384), False,
     [[1.3856409785249117, 0.8000001922391254, -1303.2409933273245],
      [-0.8000002123722547, 1.3856405239400456, 885.3058920288712]]),
    ((55.3, 610.9), (2.5, 3.3333333333333335), -17.5, (48, 64), True,
     [[9.934553146362305, 3.132352034250895, -283.3645413716634],
      [-3.132352193196617, 9.934552510579428, 368.1707967122396]]),
    ((400.0, 300.0), (1.5, 2.0), 0.0, (48, 64), True, [[6.25, -0.0, 250.0], [0.0, 6.25, 100.0]]),
]

# Outputs of SPIN's official utils/imutils.transform for the points below, res = [224, 224]:
# (center, scale, rot, invert, outputs).
SPIN_POINTS = [(1.0, 1.0), (225.0, 225.0), (10.4, -3.7), (500.25, 300.75)]
SPIN_TRANSFORM_REFERENCE = [
    ((320.0, 240.0), 1.1, 0, False, [[-212, -131], [15, 96], [-203, -136], [295, 173]]),
    ((320.0, 240.0), 1.1, 0, True, [[210, 131], [431, 351], [220, 126], [701, 425]]),
    ((100.5, 700.25), 2.3, 25.0, False, [[-75, -175], [69, -122], [-72, -179], [206, -145]]),
    ((100.5, 700.25), 2.3, 25.0, True, [[-9, 395], [212, 1006], [11, 395], [659, 1386]]),
]


def _rotation_z(deg):
    t = math.radians(deg)
    return np.array([[math.cos(t), -math.sin(t), 0.0], [math.sin(t), math.cos(t), 0.0], [0.0, 0.0, 1.0]])


# ---------------------------------------------------------------------------------------------
# Projections


def test_weak_perspective_project_adds_translation_before_scaling():
    points = np.array([[[0.1, -0.2, 5.0], [0.0, 0.0, -3.0]]])  # (1, 2, 3)
    cam = np.array([[2.0, 0.5, -0.25]])
    expected = np.array([[[2 * 0.6, 2 * -0.45], [1.0, -0.5]]])
    np.testing.assert_allclose(cameras.weak_perspective_project(points, cam), expected)
    out = cameras.weak_perspective_project(torch.from_numpy(points).float(), torch.from_numpy(cam).float())
    assert out.dtype == torch.float32 and out.shape == (1, 2, 2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    # leading dims broadcast: (B, T, J, 3) with (B, T, 3)
    many = cameras.weak_perspective_project(torch.randn(2, 5, 17, 3), torch.randn(2, 5, 3))
    assert many.shape == (2, 5, 17, 2)


def _project_with_k(points, rotation, translation, fx, fy, cx, cy):
    """Pinhole with an explicit K matrix, one batch element at a time."""
    k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    cam = points @ rotation.T + translation
    homog = (cam / cam[:, 2:3]) @ k.T
    return homog[:, :2]


def test_perspective_project_matches_k_matrix():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(3, 17, 3))
    rotation = np.stack([_rotation_z(a) for a in (10.0, -40.0, 170.0)])
    translation = np.array([[0.1, 0.2, 5.0], [0.0, -0.3, 8.0], [1.0, 0.0, 12.0]])
    principal = np.array([[112.0, 112.0], [320.0, 240.0], [0.0, 0.0]])
    focal_per_batch = np.array([5000.0, 1000.0, 700.0])
    focal_xy = np.array([[5000.0, 4900.0], [1000.0, 1100.0], [700.0, 650.0]])

    expected_batch = np.stack([
        _project_with_k(points[b], rotation[b], translation[b], focal_per_batch[b], focal_per_batch[b], *principal[b])
        for b in range(3)
    ])
    expected_xy = np.stack([
        _project_with_k(points[b], rotation[b], translation[b], *focal_xy[b], *principal[b]) for b in range(3)
    ])
    got = cameras.perspective_project(points, focal_per_batch, principal, rotation, translation)
    np.testing.assert_allclose(got, expected_batch, rtol=1e-12)
    got = cameras.perspective_project(points, focal_xy, principal, rotation, translation)
    np.testing.assert_allclose(got, expected_xy, rtol=1e-12)
    got = cameras.perspective_project(torch.from_numpy(points), 1000.0, torch.from_numpy(principal),
                                      torch.from_numpy(rotation), torch.from_numpy(translation))
    expected_scalar = np.stack([
        _project_with_k(points[b], rotation[b], translation[b], 1000.0, 1000.0, *principal[b]) for b in range(3)
    ])
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected_scalar, rtol=1e-12)
    # no rotation or translation: identity and zero
    plain = cameras.perspective_project(points + np.array([0, 0, 10.0]), 500.0, np.array([1.0, 2.0]))
    np.testing.assert_allclose(plain, 500.0 * (points[..., :2] / (points[..., 2:] + 10.0)) + np.array([1.0, 2.0]))


def test_perspective_project_rejects_ambiguous_focal_shape():
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        cameras.perspective_project(np.ones((2, 5, 3)), np.ones((4, 4)), np.zeros(2))


def test_weak_perspective_to_translation_matches_spin_training_projection():
    cam = torch.tensor([[0.9, 0.05, -0.1], [1.3, -0.2, 0.3]], dtype=torch.float64)
    t = cameras.weak_perspective_to_translation(cam)
    expected_z = 2 * 5000.0 / (224 * cam[:, 0] + 1e-9)
    torch.testing.assert_close(t, torch.stack([cam[:, 1], cam[:, 2], expected_z], dim=-1))
    # SPIN's training projection (principal point 0, divided by 112) approaches weak perspective
    points = torch.randn(2, 24, 3, dtype=torch.float64) * 0.3
    flat = points * torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    weak = cameras.weak_perspective_project(flat, cam)
    persp = cameras.perspective_project(flat, 5000.0, torch.zeros(2, 2, dtype=torch.float64), translation=t) / 112.0
    torch.testing.assert_close(persp, weak, atol=1e-9, rtol=0)  # exact at depth 0 (up to the 1e-9)
    persp_3d = cameras.perspective_project(points, 5000.0, torch.zeros(2, 2, dtype=torch.float64), translation=t) / 112.0
    assert (persp_3d - cameras.weak_perspective_project(points, cam)).abs().max() < 0.05


def _crop_weak_to_image_pixels(points, cam, box_center, box_size):
    """Weak-perspective crop coordinates mapped back into full-image pixels."""
    normalized = cameras.weak_perspective_project(points, cam)
    return box_center[:, None, :] + 0.5 * box_size[:, None, None] * normalized


def test_crop_camera_to_full_image_agrees_with_weak_perspective_crop():
    rng = np.random.default_rng(1)
    b = 4
    cam = np.c_[rng.uniform(0.6, 1.4, b), rng.uniform(-0.2, 0.2, b), rng.uniform(-0.2, 0.2, b)]
    box_center = rng.uniform(100, 1800, size=(b, 2))
    box_size = rng.uniform(150, 700, size=b)
    image_size = np.array([[1920.0, 1080.0]] * b)
    focal = np.full(b, 1500.0)
    t_full = cameras.crop_camera_to_full_image(cam, box_center, box_size, image_size, focal)
    assert t_full.shape == (b, 3)

    points = rng.normal(size=(b, 24, 3)) * 0.4
    flat = points * np.array([1.0, 1.0, 0.0])
    principal = image_size / 2
    expected = _crop_weak_to_image_pixels(flat, cam, box_center, box_size)
    got = cameras.perspective_project(flat, focal, principal, translation=t_full)
    np.testing.assert_allclose(got, expected, atol=1e-6)  # exact at depth 0 (up to the 1e-9)

    # With depth, the offset from the principal point shrinks by tz / (Z + tz).
    expected_3d = _crop_weak_to_image_pixels(points, cam, box_center, box_size)
    ratio = (t_full[:, None, 2:3] / (points[..., 2:3] + t_full[:, None, 2:3]))
    got_3d = cameras.perspective_project(points, focal, principal, translation=t_full)
    np.testing.assert_allclose(got_3d - principal[:, None], ratio * (expected_3d - principal[:, None]), rtol=1e-9)
    # and the perspective error shrinks with the depth spread of the body
    small = points * np.array([1.0, 1.0, 0.01])
    got_small = cameras.perspective_project(small, focal, principal, translation=t_full)
    err_small = np.abs(got_small - _crop_weak_to_image_pixels(small, cam, box_center, box_size)).max()
    assert err_small < 0.02 * np.abs(got_3d - expected_3d).max()

    t_torch = cameras.crop_camera_to_full_image(torch.from_numpy(cam).float(), box_center, box_size, image_size, 1500.0)
    assert t_torch.dtype == torch.float32
    np.testing.assert_allclose(t_torch.numpy(), t_full, rtol=1e-5)


def test_crop_camera_centred_box_reduces_to_spin():
    cam = np.array([0.9, 0.1, -0.05])
    t = cameras.crop_camera_to_full_image(cam, np.array([112.0, 112.0]), 224.0, np.array([224.0, 224.0]), 5000.0)
    np.testing.assert_allclose(t, cameras.weak_perspective_to_translation(cam), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Boxes


def _hrnet_box_to_center_scale(x, y, w, h, aspect_ratio=0.75):
    """HRNet's rule for one box, written with if/elif."""
    center = [x + w * 0.5, y + h * 0.5]
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, [w / 200.0 * 1.25, h / 200.0 * 1.25]


def test_box_conversions():
    xyxy = np.array([[10.0, 20.0, 110.0, 220.0], [0.0, 0.0, 5.0, 1.0]])
    xywh = cameras.box_xyxy_to_xywh(xyxy)
    np.testing.assert_array_equal(xywh, [[10, 20, 100, 200], [0, 0, 5, 1]])
    np.testing.assert_array_equal(cameras.box_xywh_to_xyxy(xywh), xyxy)
    assert cameras.box_xyxy_to_xywh(np.zeros((3, 2, 4))).shape == (3, 2, 4)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        cameras.box_xyxy_to_xywh(np.zeros((2, 3)))


def test_box_to_center_scale_matches_hrnet_rule():
    rng = np.random.default_rng(2)
    boxes = np.c_[rng.uniform(0, 500, (50, 2)), rng.uniform(1, 400, (50, 2))]
    boxes[0, 2:] = [75.0, 100.0]  # exactly the aspect ratio
    center, scale = cameras.box_to_center_scale(boxes)
    for i, box in enumerate(boxes):
        c, s = _hrnet_box_to_center_scale(*box)
        np.testing.assert_allclose(center[i], c, rtol=1e-15)
        np.testing.assert_allclose(scale[i], s, rtol=1e-15)
    center2, scale2 = cameras.box_to_center_scale(boxes.reshape(5, 10, 4))
    assert center2.shape == (5, 10, 2) and scale2.shape == (5, 10, 2)


def test_square_center_scale_and_back():
    center, scale = cameras.box_to_center_scale_square(np.array([[10.0, 20.0, 100.0, 300.0]]), rescale=1.2)
    np.testing.assert_allclose(center, [[60.0, 170.0]])
    np.testing.assert_allclose(scale, [1.2 * 300 / 200])
    np.testing.assert_allclose(cameras.center_scale_to_box(center, scale), [[60 - 180, 170 - 180, 60 + 180, 170 + 180]])
    box = cameras.center_scale_to_box(np.array([100.0, 50.0]), np.array([0.5, 1.0]))
    np.testing.assert_allclose(box, [50.0, -50.0, 150.0, 150.0])
    # without padding, HRNet's center/scale gives back a box with the same center
    c, s = cameras.box_to_center_scale(np.array([10.0, 20.0, 75.0, 100.0]), padding=1.0)
    np.testing.assert_allclose(cameras.center_scale_to_box(c, s), [10.0, 20.0, 85.0, 120.0])


# ---------------------------------------------------------------------------------------------
# HRNet affine crop


@pytest.mark.parametrize("case", HRNET_AFFINE_REFERENCE)
def test_get_affine_transform_matches_official_values(case):
    center, scale, rot, size, inv, expected = case
    got = cameras.get_affine_transform(np.array(center), np.array(scale), rot, size, inv=inv)
    assert got.shape == (2, 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, atol=1e-10, rtol=0)


def test_get_affine_transform_geometry():
    center, scale, size = np.array([321.7, 155.2]), np.array([1.3, 1.9]), (192, 256)
    k = 192 / (200 * 1.3)
    m = cameras.get_affine_transform(center, scale, 0.0, size)
    pts = np.array([[321.7, 155.2], [0.0, 0.0], [500.0, 40.0]])
    expected = (pts - center) * k + np.array([96.0, 128.0])
    np.testing.assert_allclose(cameras.affine_transform_points(pts, m), expected, rtol=1e-6)

    # rotation by theta: the point above the center (by half the box) maps to the top middle
    rot = 30.0
    m = cameras.get_affine_transform(center, scale, rot, size)
    t = math.radians(rot)
    above = center + 130.0 * np.array([math.sin(t), -math.cos(t)])  # half of s_w = 200 * 1.3
    np.testing.assert_allclose(cameras.affine_transform_points(above[None], m)[0], [96.0, 128.0 - 96.0], atol=1e-3)
    assert np.linalg.det(m[:, :2]) == pytest.approx(k * k, rel=1e-5)

    # inv undoes the forward map
    inv = cameras.get_affine_transform(center, scale, rot, size, inv=True)
    back = cameras.affine_transform_points(cameras.affine_transform_points(pts, m), inv)
    np.testing.assert_allclose(back, pts, atol=1e-3)

    # a single number for scale means the same width and height; batches work
    np.testing.assert_array_equal(cameras.get_affine_transform(center, 1.3, 0.0, size),
                                  cameras.get_affine_transform(center, np.array([1.3, 1.3]), 0.0, size))
    batch = cameras.get_affine_transform(np.tile(center, (4, 1)), np.tile(scale, (4, 1)), np.array([0, 10, 20, 30.0]), size)
    assert batch.shape == (4, 2, 3)
    np.testing.assert_array_equal(batch[3], m)


def test_affine_transform_points_shapes():
    m = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]])
    pts = np.ones((5, 17, 2))
    out = cameras.affine_transform_points(pts, m)
    assert out.shape == (5, 17, 2)
    np.testing.assert_allclose(out[0, 0], [3.0, 2.0])
    assert cameras.affine_transform_points(pts, np.stack([m] * 5)).shape == (5, 17, 2)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        cameras.affine_transform_points(pts, np.eye(3))


# ---------------------------------------------------------------------------------------------
# SPIN crop


def test_spin_crop_transform_closed_form():
    center, scale = np.array([300.0, 180.0]), 1.4
    h = 200 * scale
    m = cameras.spin_crop_transform(center, scale, 224)
    expected = np.array([[224 / h, 0, 224 * (-300 / h + 0.5)], [0, 224 / h, 224 * (-180 / h + 0.5)], [0, 0, 1]])
    np.testing.assert_allclose(m, expected, rtol=1e-15)
    # the box maps onto [0, 224]
    np.testing.assert_allclose(m @ np.array([300 - h / 2, 180 - h / 2, 1.0]), [0, 0, 1], atol=1e-12)

    # rotation: -rot degrees about the crop centre, applied after the crop
    rot = 20.0
    r = _rotation_z(-rot)
    about_centre = np.eye(3)
    about_centre[:2, :2] = r[:2, :2]
    about_centre[:2, 2] = np.array([112.0, 112.0]) - r[:2, :2] @ np.array([112.0, 112.0])
    np.testing.assert_allclose(cameras.spin_crop_transform(center, scale, [224, 224], rot=rot), about_centre @ m,
                               atol=1e-12)


@pytest.mark.parametrize("case", SPIN_TRANSFORM_REFERENCE)
def test_spin_transform_points_matches_official_values(case):
    center, scale, rot, invert, expected = case
    got = cameras.spin_transform_points(np.array(SPIN_POINTS), center, scale, [224, 224], invert=invert, rot=rot)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_spin_transform_points_truncation():
    center, scale = np.array([112.0, 112.0]), 224 / 200  # identity crop
    pts = np.array([[1.5, 1.5], [0.5, 0.5], [-0.5, -1.5], [10.99, 3.0]])
    # 1-based: p - 1 then truncate toward zero then + 1
    np.testing.assert_array_equal(cameras.spin_transform_points(pts, center, scale, 224), [[1, 1], [1, 1], [0, -1], [10, 3]])
    np.testing.assert_allclose(cameras.spin_transform_points(pts, center, scale, 224, truncate=False), pts, rtol=1e-12)
    # the float variant inverts exactly
    c, s = np.array([431.0, 95.5]), 2.7
    x = np.array([[12.25, 300.5], [600.0, -4.0]])
    there = cameras.spin_transform_points(x, c, s, 224, rot=15.0, truncate=False)
    back = cameras.spin_transform_points(there, c, s, 224, rot=15.0, invert=True, truncate=False)
    np.testing.assert_allclose(back, x, atol=1e-9)


def test_full_image_to_crop_camera_inverts_crop_camera_to_full_image():
    from body_models.cameras import crop_camera_to_full_image, full_image_to_crop_camera

    rng = np.random.default_rng(3)
    cam = np.stack([rng.uniform(0.5, 1.2, 8), rng.normal(0, 0.1, 8), rng.normal(0, 0.1, 8)], -1)
    center, size = rng.uniform(100, 500, (8, 2)), rng.uniform(80, 300, 8)
    image_size, focal = np.array([640.0, 480.0]), 900.0
    transl = crop_camera_to_full_image(torch.as_tensor(cam), torch.as_tensor(center), torch.as_tensor(size),
                                       torch.as_tensor(image_size).expand(8, 2), torch.full((8,), focal)).numpy()
    np.testing.assert_allclose(full_image_to_crop_camera(transl, center, size, image_size, focal), cam, atol=1e-9)
