"""Square crops (SPIN's center/scale), the bilinear warp, keypoints, and the camera back to the image."""

import numpy as np
import pytest
import torch

from body_models.cameras import SPIN_FOCAL_LENGTH, perspective_project, weak_perspective_project
from body_models.errors import InputError
from hmr.regressor import HMR, HMRConfig
from hmr.regressor.crops import crop_boxes, crop_matrix, full_image_translation, keypoints_to_crop, warp_crop
from hmr.core.imagenet import IMAGENET_MEAN, IMAGENET_STD


def _denormalise(images):
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return ((images * std + mean) * 255).round()


def test_crop_boxes_follows_spin_center_scale():
    image = np.zeros((200, 300, 3), dtype=np.uint8)
    image[100, 150] = (255, 0, 0)  # box centre
    image[60, 150] = (0, 255, 0)  # 40 px above the centre
    crops = crop_boxes(image, [[110, 40, 80, 120]], rescale=1.0, size=224)  # box (x, y, w, h)
    np.testing.assert_allclose(crops.center, [[150.0, 100.0]])
    np.testing.assert_allclose(crops.scale, [120 / 200])
    np.testing.assert_allclose(crops.box_size, [120.0])
    assert crops.images.shape == (1, 3, 224, 224)
    pixels = _denormalise(crops.images[0])
    # The box centre lands on the crop centre; 40 px above it lands 40 · 224/120 crop px above.
    assert pixels[0, 112, 112] == 255
    up = 112 - round(40 * 224 / 120)
    assert pixels[1, up, 112] > 100
    # A box entirely outside the image gives a black crop.
    outside = crop_boxes(image, [[-100, -100, 60, 60]], size=32)
    assert (_denormalise(outside.images) == 0).all()


def test_warp_and_keypoints_agree_under_rotation_and_flip():
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    points = np.array([[40.0, 30.0], [100.0, 80.0], [70.0, 95.0]])
    for (x, y), colour in zip(points.astype(int), [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        image[y - 1:y + 2, x - 1:x + 2] = colour
    for rot, flip in [(0.0, False), (25.0, False), (0.0, True), (-40.0, True)]:
        matrix = crop_matrix([75.0, 60.0], 0.9, 96, rot_deg=rot, flip=flip)
        crop = warp_crop(image, matrix, 96)
        normalised = keypoints_to_crop(points, matrix, 96)
        pixel = np.round((normalised + 1) * 48).astype(int)
        for channel, (x, y) in enumerate(pixel):
            assert crop[y, x, channel] > 200, (rot, flip, channel)
    # The flip mirrors normalised coordinates exactly.
    plain = keypoints_to_crop(points, crop_matrix([75.0, 60.0], 0.9, 96, rot_deg=10.0), 96)
    mirrored = keypoints_to_crop(points, crop_matrix([75.0, 60.0], 0.9, 96, rot_deg=10.0, flip=True), 96)
    np.testing.assert_allclose(mirrored[:, 0], -plain[:, 0], atol=1e-12)
    np.testing.assert_allclose(mirrored[:, 1], plain[:, 1], atol=1e-12)


def test_full_image_translation():
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    crops = crop_boxes(image, [[400, 100, 100, 200], [50, 200, 150, 150]], rescale=1.2, size=224)
    cam = torch.tensor([[0.8, 0.05, -0.1], [1.1, -0.2, 0.3]], dtype=torch.float64)
    # SPIN's crop focal length: depth 2 · 5000 / (224 · s) as SPIN's demo.
    spin = full_image_translation(cam, crops, image_size=(640, 480))
    torch.testing.assert_close(spin.transl[:, 2], 2 * SPIN_FOCAL_LENGTH / (224 * cam[:, 0]))
    torch.testing.assert_close(spin.focal_length, SPIN_FOCAL_LENGTH * torch.as_tensor(crops.box_size) / 224)
    # A whole-image focal length: a point at depth 0 projects where the crop camera puts it.
    given = full_image_translation(cam, crops, image_size=(640, 480), focal_length=1000.0)
    points = torch.tensor([[[0.1, -0.3, 0.0], [-0.2, 0.4, 0.0]]], dtype=torch.float64).expand(2, 2, 3)
    pixels = perspective_project(points, given.focal_length, given.principal_point, translation=given.transl)
    in_crop = weak_perspective_project(points, cam)  # normalised crop coordinates
    expected = torch.as_tensor(crops.center)[:, None] + 0.5 * torch.as_tensor(crops.box_size)[:, None, None] * in_crop
    torch.testing.assert_close(pixels, expected)
    with pytest.raises(InputError, match=r"\(2, 3\)"):
        full_image_translation(cam[:1], crops, image_size=(640, 480))


def test_bad_crops_and_image_batches_are_one_line_errors():
    with pytest.raises(InputError, match="uint8"):
        crop_boxes(np.zeros((10, 10, 3), dtype=np.float32), [[0, 0, 5, 5]])
    with pytest.raises(InputError, match="positive"):
        crop_boxes(np.zeros((10, 10, 3), dtype=np.uint8), [[0, 0, 0, 5]])
    model = HMR(HMRConfig(image_size=64)).eval()
    with pytest.raises(InputError) as error:
        model(torch.zeros(2, 3, 224, 224))
    message = str(error.value)
    assert "\n" not in message and "(2, 3, 224, 224)" in message and "(B, 3, 64, 64)" in message
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 64, 64)).rotmat.shape == (2, 24, 3, 3)
    with pytest.raises(InputError, match="multiple of 32"):
        HMRConfig(image_size=100)
