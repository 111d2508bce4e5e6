"""Inference: pixels in, root-relative camera-frame metres out; short and gappy sequences; errors."""

import numpy as np
import pytest
import torch

from body_models.cameras import (
    image_coordinates,
    normalize_screen_coordinates,
    project_to_2d,
    world_to_camera,
)
from body_models.errors import InputError
from body_models.joints import COCO_17, H36M_17
from body_models.metrics import MM_PER_M, mpjpe, pa_mpjpe
from lifting import DEMO_WEIGHTS, TemporalModel, lift_keypoints, load_pretrained
from lifting.data import h36m_cameras
from lifting.evaluate import predict_sequence
from lifting.filling import HIP_ANCHOR
from lifting.synthetic import synthetic_joint_sets


def _model(joints_out=17, widths=(3, 3), seed=0):
    torch.manual_seed(seed)
    model = TemporalModel(17, 2, joints_out, widths, channels=16)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 0.3)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _pixels(frames, seed=0, size=(640, 480)):
    rng = np.random.default_rng(seed)
    base = rng.uniform([100, 80], [540, 400], size=(1, 17, 2))
    return (base + np.cumsum(rng.normal(0, 2, size=(frames, 17, 2)), axis=0)).astype(np.float32)


def test_shapes_and_root_relative_output():
    model = _model()
    keypoints = _pixels(40)
    result = lift_keypoints(model, keypoints, (640, 480), layout="coco")
    assert result.joints.shape == (40, 17, 3) and result.joints.dtype == np.float32
    assert result.trajectory is None and result.interpolated.shape == (40,) and not result.interpolated.any()
    np.testing.assert_array_equal(result.joints[:, 0], 0)
    # the same as the evaluation path on normalised input, minus the root
    normalized = normalize_screen_coordinates(keypoints, w=640, h=480)
    expected = predict_sequence(model, normalized, flip=True, keypoints_left=COCO_17.left,
                                keypoints_right=COCO_17.right)
    np.testing.assert_allclose(result.joints, expected - expected[:, :1], atol=1e-6)


def test_layout_chooses_the_flip_symmetry():
    model = _model()
    keypoints = _pixels(12)
    coco = lift_keypoints(model, keypoints, (640, 480), layout="coco")
    h36m = lift_keypoints(model, keypoints, (640, 480), layout="h36m")
    plain = lift_keypoints(model, keypoints, (640, 480), flip=False)
    assert not np.allclose(coco.joints, h36m.joints) and not np.allclose(coco.joints, plain.joints)


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_sequences_shorter_than_the_receptive_field(frames):
    model = _model(widths=(3, 3, 3))  # 27 frames
    keypoints = _pixels(frames, seed=frames)
    result = lift_keypoints(model, keypoints, (640, 480), flip=False)
    assert result.joints.shape == (frames, 17, 3)
    # frame t sees the sequence edge-padded by 13 frames on each side
    normalized = normalize_screen_coordinates(keypoints, w=640, h=480)
    index = np.clip(np.arange(-13, frames + 13), 0, frames - 1)
    with torch.no_grad():
        direct = model(torch.from_numpy(normalized[index][None]).float())[0].numpy()
    np.testing.assert_allclose(result.joints, direct - direct[:, :1], atol=1e-5)


def test_missing_frames_are_interpolated_and_flagged():
    model = _model()
    keypoints = np.concatenate([_pixels(20), np.ones((20, 17, 1), np.float32)], axis=-1)
    gappy = keypoints.copy()
    gappy[3, 4, 0] = np.nan  # one NaN joint: only that joint is filled, moving with the hips
    gappy[7:9, :, 2] = 0.0  # confidence 0: whole frames are filled
    result = lift_keypoints(model, gappy, (640, 480))
    assert np.flatnonzero(result.interpolated).tolist() == [3, 7, 8]
    assert np.flatnonzero(result.empty).tolist() == [7, 8]
    filled = keypoints.copy()
    hips = keypoints[:, list(HIP_ANCHOR["coco"]), :2].mean(axis=1)  # (T, 2)
    filled[3, 4, :2] = hips[3] + (keypoints[2, 4, :2] - hips[2] + keypoints[4, 4, :2] - hips[4]) / 2
    filled[7] = keypoints[6] + (keypoints[9] - keypoints[6]) / 3
    filled[8] = keypoints[6] + (keypoints[9] - keypoints[6]) * 2 / 3
    expected = lift_keypoints(model, filled[..., :2], (640, 480))
    np.testing.assert_allclose(result.joints, expected.joints, atol=1e-4)


def test_trajectory_model():
    result = lift_keypoints(_model(), _pixels(9), (640, 480), trajectory_model=_model(joints_out=1, seed=1))
    assert result.trajectory.shape == (9, 3) and np.isfinite(result.trajectory).all()


def test_bad_input_gets_one_line_errors():
    model = _model()
    with pytest.raises(InputError, match="16 joints but layout 'coco' has 17") as error:
        lift_keypoints(model, np.zeros((5, 16, 2)), (640, 480))
    assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="unknown keypoint layout 'mpii'"):
        lift_keypoints(model, _pixels(5), (640, 480), layout="mpii")
    with pytest.raises(InputError, match="no frame .* has keypoints"):
        lift_keypoints(model, np.full((5, 17, 2), np.nan), (640, 480))
    with pytest.raises(InputError, match=r"\(T, 17, 2 or 3\)"):
        lift_keypoints(model, np.zeros((5, 17)), (640, 480))
    with pytest.raises(InputError, match="image_size"):
        lift_keypoints(model, _pixels(5), (0, 480))
    with pytest.raises(InputError, match="takes 15 joints"):
        lift_keypoints(TemporalModel(15, 2, 17, (3,), channels=8).eval(), _pixels(5), (640, 480))


@pytest.mark.skipif(not DEMO_WEIGHTS.is_file(), reason="demo weights not built")
def test_demo_weights_lift_an_unseen_synthetic_clip(mannequin_smpl):
    model = load_pretrained(DEMO_WEIGHTS)
    assert model.receptive_field() == 27 and model.channels == 256 and model.num_joints_in == 17
    joints = synthetic_joint_sets("wave", 60, seed=987_654, smpl=mannequin_smpl, joint_sets=("coco_17",))
    cam = h36m_cameras("S9")[1]
    camera = {name: world_to_camera(j, cam.orientation, cam.translation) for name, j in joints.items()}
    pixels = image_coordinates(project_to_2d(camera["coco_17"], cam.intrinsic), cam.res_w, cam.res_h)
    result = lift_keypoints(model, pixels[::2], (cam.res_w, cam.res_h), layout="coco")  # 25 fps, as trained
    target = camera[H36M_17.name][::2] - camera[H36M_17.name][::2, :1]
    assert mpjpe(result.joints, target) * MM_PER_M < 80
    assert pa_mpjpe(result.joints, target) * MM_PER_M < 60


def test_a_joint_never_seen_takes_the_frame_mean():
    from lifting.data import fill_missing_joints

    keypoints = _pixels(6)
    present = np.ones((6, 17), bool)
    present[:, 3] = False
    present[2, 5] = False
    filled = fill_missing_joints(np.where(present[..., None], keypoints, np.nan), present)
    np.testing.assert_allclose(filled[:, 3], np.delete(filled, 3, axis=1).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(filled[2, 5], (keypoints[1, 5] + keypoints[3, 5]) / 2, rtol=1e-6)
