"""Top-down decoding, flip test, crops, DARK refinement and One-Euro smoothing."""

import math

import numpy as np
import pytest
import torch

from body_models import joints as js
from body_models.errors import InputError
from hmr.core.imagenet import normalize_images
from hmr.pose2d import HRNet, HRNetConfig
from hmr.pose2d.smoothing import OneEuroParams, smooth_keypoints
from hmr.pose2d.topdown import (
    crop_people,
    dark_kernel_for,
    decode_heatmaps,
    estimate_keypoints,
    fold_batchnorm,
    flip_back,
    predict_heatmaps,
)

HM_W, HM_H = 48, 64


def _reference_decode(heatmaps, center, scale):
    """FORMATS.md §1.8 written out joint by joint, with the closed-form rot-0 inverse affine."""
    n, j, h, w = heatmaps.shape
    out = np.zeros((n, j, 3))
    for a in range(n):
        k = w / (200.0 * scale[a][0])  # heatmap cells per image pixel
        for b in range(j):
            hm = heatmaps[a, b]
            idx = int(np.argmax(hm))
            x, y, maxval = float(idx % w), float(idx // w), float(hm.reshape(-1)[idx])
            if maxval <= 0:
                x = y = 0.0
            px, py = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
            if 1 < px < w - 1 and 1 < py < h - 1:
                x += 0.25 * np.sign(hm[py, px + 1] - hm[py, px - 1])
                y += 0.25 * np.sign(hm[py + 1, px] - hm[py - 1, px])
            out[a, b] = ((x - w / 2) / k + center[a][0], (y - h / 2) / k + center[a][1], maxval)
    return out


def _gaussian_maps(xy, sigma=2.0, w=HM_W, h=HM_H):
    """(N, 2) sub-pixel peak positions → (N, 1, h, w) unnormalised Gaussians, peak 1."""
    ys, xs = np.mgrid[0:h, 0:w]
    d2 = (xs[None] - xy[:, 0, None, None]) ** 2 + (ys[None] - xy[:, 1, None, None]) ** 2
    return np.exp(-d2 / (2 * sigma**2))[:, None]


def _identity_crop(n, w=HM_W, h=HM_H):
    """center/scale for which heatmap cells are image pixels."""
    return np.tile([w / 2, h / 2], (n, 1)), np.tile([w / 200, h / 200], (n, 1))


def test_decoding_matches_a_joint_by_joint_reference():
    rng = np.random.default_rng(0)
    heatmaps = rng.standard_normal((12, 17, HM_H, HM_W)).astype(np.float32)
    heatmaps[0] = -np.abs(heatmaps[0])  # no positive value: (0, 0) and no shift
    heatmaps[1] = 0.0
    heatmaps[1, :, 1, 1] = 1.0  # peak on the border row/column: no shift (strict interior)
    center = rng.uniform(0, 800, (12, 2))
    scale = rng.uniform(0.3, 3, (12, 2))
    ours = decode_heatmaps(heatmaps, center, scale)
    ref = _reference_decode(heatmaps, center, scale)
    # HRNet's transform rounds its anchor points to float32, the closed form does not: ~1e-5 px
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-4)
    np.testing.assert_array_equal(ours[..., 2], ref[..., 2])
    # the quarter shift really happened somewhere (a non-integer heatmap cell)
    cells = (ours[2:, :, 0] - center[2:, None, 0]) * HM_W / (200 * scale[2:, None, 0]) + HM_W / 2
    assert np.any(np.abs(cells - np.round(cells) - 0.25) < 1e-6) or np.any(np.abs(cells - np.round(cells) + 0.25) < 1e-6)


def test_decoding_accepts_tensors_and_rejects_unknown_refinement():
    heatmaps = torch.rand(2, 17, HM_H, HM_W)
    center, scale = _identity_crop(2)
    np.testing.assert_allclose(decode_heatmaps(heatmaps, center, scale),
                               decode_heatmaps(heatmaps.numpy(), center, scale))
    with pytest.raises(InputError, match="refine"):
        decode_heatmaps(heatmaps, center, scale, refine="bilinear")


def test_gaussian_peaks_official_within_quarter_cell_and_dark_closer():
    rng = np.random.default_rng(1)
    truth = np.stack([rng.uniform(6, HM_W - 6, 200), rng.uniform(6, HM_H - 6, 200)], axis=-1)
    heatmaps = _gaussian_maps(truth)
    center, scale = _identity_crop(len(truth))
    official = decode_heatmaps(heatmaps, center, scale)[:, 0, :2]
    dark = decode_heatmaps(heatmaps, center, scale, refine="dark", dark_kernel=dark_kernel_for(2.0))[:, 0, :2]
    official_err = np.abs(official - truth)
    dark_err = np.abs(dark - truth)
    assert official_err.max() <= 0.25 + 1e-9
    assert official_err.mean() > 0.05  # the quarter-cell decoding is genuinely coarse
    assert dark_err.max() < 0.02
    assert np.linalg.norm(dark - truth, axis=-1).mean() < 0.1 * np.linalg.norm(official - truth, axis=-1).mean()


def test_dark_keeps_border_peaks_and_the_kernel_rule():
    heatmaps = _gaussian_maps(np.array([[0.2, 30.3]]))  # peak on the left border column
    center, scale = _identity_crop(1)
    dark = decode_heatmaps(heatmaps, center, scale, refine="dark")
    np.testing.assert_allclose(dark[0, 0, :2], [0.0, 30.0], atol=1e-9)  # argmax kept at the border
    assert dark_kernel_for(2.0) == 11 and dark_kernel_for(3.0) == 17
    with pytest.raises(InputError):
        decode_heatmaps(heatmaps, center, scale, refine="dark", dark_kernel=4)


def test_flip_back_mirrors_swaps_and_shifts():
    heatmaps = torch.zeros(1, 17, 8, 6)
    heatmaps[0, 1, 2, 4] = 1.0  # left eye at column 4
    out = flip_back(heatmaps, js.COCO_17.flip_perm)
    # mirrored column 6-1-4 = 1, moved to the right eye, then shifted one column right
    assert out[0, 2, 2, 2] == 1.0 and out[0, 1].abs().sum() == 0
    unshifted = flip_back(heatmaps, js.COCO_17.flip_perm, shift=False)
    assert torch.equal(flip_back(unshifted, js.COCO_17.flip_perm, shift=False), heatmaps)


@pytest.fixture(scope="module")
def small_hrnet():
    torch.manual_seed(0)
    return HRNet(HRNetConfig(width=8, num_modules=(1, 1, 1), num_blocks=(1, 1, 1), image_size=(64, 64))).eval()


def test_flip_test_is_mirror_symmetric(small_hrnet):
    """Without the shift, the flip-test output of a mirrored crop is the mirrored, swapped output."""
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    perm = js.COCO_17.flip_perm
    direct = predict_heatmaps(small_hrnet, images, flip=True, shift=False)
    mirrored = predict_heatmaps(small_hrnet, images.flip(-1), flip=True, shift=False)
    torch.testing.assert_close(flip_back(mirrored, perm, shift=False), direct, atol=1e-5, rtol=1e-5)
    plain = predict_heatmaps(small_hrnet, images, flip=False)
    assert not torch.allclose(plain, direct)  # the flip test changes the output


def test_flip_needs_pairs_for_other_joint_counts():
    model = HRNet(HRNetConfig(width=8, num_joints=5, num_modules=(1, 1, 1), num_blocks=(1, 1, 1),
                              image_size=(64, 64))).eval()
    with pytest.raises(InputError, match="left/right"):
        predict_heatmaps(model, torch.zeros(1, 3, 64, 64), flip=True)
    assert predict_heatmaps(model, torch.zeros(1, 3, 64, 64), flip=True, flip_perm=range(5)).shape == (1, 5, 16, 16)


def test_crops_put_the_box_centre_at_the_crop_centre_and_normalise():
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[58:63, 98:103] = (255, 0, 0)  # a red dot around (100, 60)
    crops = crop_people(frame, [[80, 30, 120, 90], [0, 0, 10, 10]], image_size=(48, 64))
    assert crops.images.shape == (2, 64, 48, 3) and crops.images.dtype == np.uint8
    red = crops.images[0, ..., 0].astype(float)
    ys, xs = np.nonzero(red > 128)
    assert abs(xs.mean() - 23.5) < 1.0 and abs(ys.mean() - 31.5) < 1.0
    np.testing.assert_allclose(crops.center[0], [100, 60])
    np.testing.assert_allclose(crops.scale[0], [60 * 0.75 / 200 * 1.25, 60 / 200 * 1.25])  # widened to 3:4
    x = normalize_images(crops.images)
    assert x.shape == (2, 3, 64, 48) and x.dtype == torch.float32
    np.testing.assert_allclose(x[1, :, 63, 47].numpy(), -np.array([0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
                               rtol=1e-5)


def test_estimate_keypoints_shapes_and_zero_people(small_hrnet):
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    result = estimate_keypoints(small_hrnet, frame, [[10, 10, 60, 90], [70, 5, 120, 90]], refine="dark")
    assert result.keypoints.shape == (2, 17, 3) and result.heatmaps.shape == (2, 17, 16, 16)
    assert estimate_keypoints(small_hrnet, frame, np.zeros((0, 4))).keypoints.shape == (0, 17, 3)


def _noisy_track(fps=30.0, frames=300, noise=2.0, seed=0):
    t = np.arange(frames) / fps
    truth = np.stack([400 + 100 * np.sin(2 * np.pi * 0.5 * t), 300 + 60 * np.cos(2 * np.pi * 0.3 * t)], -1)
    truth = np.broadcast_to(truth[:, None, None, :], (frames, 1, 17, 2))
    noisy = truth + np.random.default_rng(seed).normal(0, noise, truth.shape)
    return truth, np.concatenate([noisy, np.ones(truth.shape[:-1] + (1,))], axis=-1)


def test_one_euro_reduces_jitter_with_bounded_lag():
    truth, keypoints = _noisy_track()
    smoothed = smooth_keypoints(keypoints, fps=30.0)

    def jitter(xy):  # mean |second difference|, pixels / frame²
        return np.linalg.norm(np.diff(xy, n=2, axis=0), axis=-1).mean()

    assert jitter(smoothed[..., :2]) < 0.75 * jitter(keypoints[..., :2])
    rmse = np.sqrt(((smoothed[..., :2] - truth) ** 2).sum(-1).mean())
    assert rmse < 4.0  # noise alone is 2.8 px; the filter may lag a little, not a lot
    still = smooth_keypoints(np.concatenate([truth[:1].repeat(300, 0) + keypoints[..., :2] - truth,
                                             keypoints[..., 2:]], -1), fps=30.0)
    assert jitter(still[..., :2]) < 0.5 * jitter(keypoints[..., :2])  # at rest it smooths harder
    np.testing.assert_array_equal(smoothed[..., 2], keypoints[..., 2])


def test_one_euro_keeps_gaps_and_restarts_after_them():
    _, keypoints = _noisy_track(frames=40)
    keypoints[10:15, 0, 3, :2] = np.nan
    keypoints[15:, 0, 3, :2] += 500.0  # the joint comes back far away
    smoothed = smooth_keypoints(keypoints, fps=30.0)
    assert np.isnan(smoothed[10:15, 0, 3, :2]).all()
    np.testing.assert_allclose(smoothed[15, 0, 3, :2], keypoints[15, 0, 3, :2])  # restart, no drag
    with pytest.raises(InputError, match="frame rate"):
        smooth_keypoints(keypoints, fps=0)
    with pytest.raises(InputError):
        OneEuroParams(min_cutoff=0)


def test_fold_batchnorm_removes_every_bn_and_keeps_the_output(small_hrnet):
    model = HRNet(HRNetConfig(width=8, num_modules=(1, 1, 1), num_blocks=(1, 1, 1), image_size=(64, 64))).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():  # non-trivial BN statistics, so a missed or misplaced fold shows
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean") or (name.endswith("bias") and tensor.ndim == 1):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    images = torch.randn(2, 3, 64, 64, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(folded(images), model(images), atol=1e-5, rtol=1e-4)
